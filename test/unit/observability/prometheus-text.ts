/**
 * A strict parser of the Prometheus text exposition format 0.0.4, for tests: every line must be
 * a HELP, a TYPE, a sample of a family whose TYPE came first, or blank. It throws on anything
 * else, so "it parses" means a Prometheus server would accept it.
 */

/** One sample line. */
export interface Sample {
  readonly name: string;
  readonly labels: Readonly<Record<string, string>>;
  readonly value: number;
}

/** A metric family: its TYPE, HELP and samples. */
export interface Family {
  readonly type: string;
  readonly help: string;
  readonly samples: Sample[];
}

const NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/;
const LABEL_NAME = /^[a-zA-Z_][a-zA-Z0-9_]*$/;
const TYPES = new Set(['counter', 'gauge', 'histogram', 'summary', 'untyped']);
const SAMPLE = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{.*\})?\s+(\S+)(?:\s+(-?\d+))?$/;
const LABEL = /\s*([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"\s*(,|$)/y;

function parseValue(text: string, line: number): number {
  if (/^[+-]?inf$/i.test(text)) return text.startsWith('-') ? -Infinity : Infinity;
  if (/^nan$/i.test(text)) return NaN;
  if (!/^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$/.test(text)) {
    throw new Error(`line ${line}: bad value "${text}"`);
  }
  return Number(text);
}

function parseLabels(text: string, line: number): Record<string, string> {
  const labels: Record<string, string> = {};
  const body = text.slice(1, -1);
  LABEL.lastIndex = 0;
  while (LABEL.lastIndex < body.length) {
    const match = LABEL.exec(body);
    if (!match) throw new Error(`line ${line}: bad labels "${text}"`);
    const [, name, raw] = match;
    if (name! in labels) throw new Error(`line ${line}: label ${name} twice`);
    labels[name!] = raw!.replace(/\\(.)/g, (_, c: string) => (c === 'n' ? '\n' : c));
  }
  return labels;
}

/** The base family name of a sample (histogram and summary samples carry suffixes). */
function familyOf(name: string, families: Map<string, Family>): Family | undefined {
  if (families.has(name)) return families.get(name);
  const base = name.replace(/_(bucket|sum|count)$/, '');
  return families.get(base);
}

/** Parses `text`, throwing on the first line that does not follow the format. */
export function parsePrometheusText(text: string): Map<string, Family> {
  const families = new Map<string, Family>();
  const helps = new Map<string, string>();
  text.split('\n').forEach((raw, index) => {
    const line = index + 1;
    if (raw.trim() === '') return;
    if (raw.startsWith('#')) {
      const match = /^# (HELP|TYPE) (\S+) ?(.*)$/.exec(raw);
      if (!match) return; // a plain comment
      const [, keyword, name, rest] = match;
      if (!NAME.test(name!)) throw new Error(`line ${line}: bad metric name "${name}"`);
      if (keyword === 'HELP') helps.set(name!, rest!);
      else {
        if (!TYPES.has(rest!)) throw new Error(`line ${line}: bad type "${rest}"`);
        if (families.has(name!)) throw new Error(`line ${line}: second TYPE for ${name}`);
        families.set(name!, { type: rest!, help: helps.get(name!) ?? '', samples: [] });
      }
      return;
    }
    const match = SAMPLE.exec(raw);
    if (!match) throw new Error(`line ${line}: not a sample: "${raw}"`);
    const [, name, labelText, valueText] = match;
    const family = familyOf(name!, families);
    if (!family) throw new Error(`line ${line}: sample of ${name} before its TYPE`);
    const labels = labelText ? parseLabels(labelText, line) : {};
    for (const label of Object.keys(labels)) {
      if (!LABEL_NAME.test(label)) throw new Error(`line ${line}: bad label name ${label}`);
    }
    family.samples.push({ name: name!, labels, value: parseValue(valueText!, line) });
  });
  return families;
}

/** The value of the one sample of `name` whose labels include `labels`; throws if none. */
export function sampleValue(
  families: Map<string, Family>,
  name: string,
  labels: Record<string, string> = {}
): number {
  const matches = (familyOf(name, families)?.samples ?? []).filter(
    sample =>
      sample.name === name &&
      Object.entries(labels).every(([key, value]) => sample.labels[key] === value)
  );
  if (matches.length !== 1) {
    throw new Error(`${matches.length} samples of ${name} ${JSON.stringify(labels)}`);
  }
  return matches[0]!.value;
}
