/**
 * Turns a mongod (PCRE) regular expression and its option letters into a JS `RegExp`, covering
 * the option letters mongod accepts and the PCRE syntax JS lacks that queries commonly use.
 */
import { ServerError } from '../server-error.js';

const VALID_OPTIONS = new Set(['i', 'm', 's', 'x', 'u']);

/** Compiles `pattern` with mongod's `options` (`imsxu`); throws mongod's errors when invalid. */
export function compileRegex(pattern: string, options: string): RegExp {
  for (const flag of options) {
    if (!VALID_OPTIONS.has(flag)) {
      throw new ServerError(51108, `invalid flag in regex options: ${flag}`);
    }
  }
  if (pattern.includes('\0')) {
    throw new ServerError(51091, 'Regular expression cannot contain an embedded null byte');
  }
  let flags = options;
  // A leading inline option group, `(?i)`, is how PCRE users set options inside the pattern.
  const inline = /^\(\?([imsx]+)\)/.exec(pattern);
  if (inline) {
    flags += inline[1];
    pattern = pattern.slice(inline[0].length);
  }
  let source = flags.includes('x') ? stripExtended(pattern) : pattern;
  source = translateAnchors(source);
  const jsFlags = ['i', 'm', 's'].filter(f => flags.includes(f)).join('');
  try {
    // PCRE runs in UTF-8 mode, so prefer code-point semantics; the `u` flag rejects identity
    // escapes such as `\-` that PCRE allows, so fall back to plain mode for those.
    return new RegExp(source, jsFlags + 'u');
  } catch {
    try {
      return new RegExp(source, jsFlags);
    } catch (error) {
      const reason = error instanceof Error ? error.message : String(error);
      throw new ServerError(51091, `Regular expression is invalid: ${reason}`);
    }
  }
}

/** PCRE extended mode: unescaped whitespace and `#` comments outside classes are ignored. */
function stripExtended(pattern: string): string {
  let out = '';
  let inClass = false;
  for (let i = 0; i < pattern.length; i++) {
    const c = pattern[i] as string;
    if (c === '\\') {
      out += pattern.slice(i, i + 2);
      i++;
    } else if (inClass) {
      if (c === ']') inClass = false;
      out += c;
    } else if (c === '[') {
      inClass = true;
      out += c;
    } else if (c === '#') {
      while (i < pattern.length && pattern[i] !== '\n') i++;
    } else if (!/\s/.test(c)) {
      out += c;
    }
  }
  return out;
}

/** `\A`, `\z` and `\Z` are PCRE-only anchors (start, end, end before a final newline). */
function translateAnchors(pattern: string): string {
  if (!/\\[AzZ]/.test(pattern)) return pattern;
  let out = '';
  let inClass = false;
  for (let i = 0; i < pattern.length; i++) {
    const c = pattern[i] as string;
    if (c === '\\') {
      const next = pattern[i + 1] ?? '';
      i++;
      if (!inClass && next === 'A') out += '(?<![\\s\\S])';
      else if (!inClass && next === 'z') out += '(?![\\s\\S])';
      else if (!inClass && next === 'Z') out += '(?=\\n?(?![\\s\\S]))';
      else out += c + next;
    } else {
      if (c === '[') inClass = true;
      else if (c === ']') inClass = false;
      out += c;
    }
  }
  return out;
}
