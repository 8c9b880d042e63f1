/** hello/isMaster, buildInfo and the other commands drivers and shells send on connect or to probe. */
import { Binary, Double, Int32, Long, Timestamp } from 'bson';

import { type BDoc, type BValue, isDoc, isNumber, toNumber } from '../bson/values.js';
import { ServerError } from '../engine/server-error.js';
import { type Mongod } from '../mongod/mongod.js';
import { type CommandContext, type CommandHandler, type ReplyBody } from './context.js';
import { replSetConfigCommands } from './repl-set-config.js';

/** The topologyVersion the server currently reports. */
export function topologyVersion(mongod: Mongod): BDoc {
  return new Map<string, BValue>([
    ['processId', mongod.processId],
    ['counter', Long.fromNumber(mongod.topologyCounter)]
  ]);
}

function helloBody(ctx: CommandContext, legacy: boolean): ReplyBody {
  const { mongod } = ctx;
  const client = ctx.cmd.get('client');
  if (isDoc(client)) {
    const application = client.get('application');
    const name = isDoc(application) ? application.get('name') : undefined;
    if (typeof name === 'string') ctx.connection.appName = name;
  }
  const opTime = mongod.lastOpTime();
  const wall = mongod.oplog.lastWall;
  const body: Record<string, unknown> = {};
  body[legacy ? 'ismaster' : 'isWritablePrimary'] = true;
  if (ctx.cmd.get('helloOk') === true) body.helloOk = true;
  Object.assign(body, {
    topologyVersion: topologyVersion(mongod),
    hosts: [mongod.host],
    setName: mongod.replSetName,
    setVersion: new Int32(1),
    secondary: false,
    primary: mongod.host,
    me: mongod.host,
    electionId: mongod.electionId,
    lastWrite: {
      opTime,
      lastWriteDate: wall,
      majorityOpTime: opTime,
      majorityWriteDate: wall
    },
    maxBsonObjectSize: new Int32(16 * 1024 * 1024),
    maxMessageSizeBytes: new Int32(48_000_000),
    maxWriteBatchSize: new Int32(100_000),
    localTime: new Date(),
    logicalSessionTimeoutMinutes: new Int32(30),
    connectionId: new Int32(ctx.connection.id),
    minWireVersion: new Int32(0),
    maxWireVersion: new Int32(mongod.profile.maxWireVersion),
    readOnly: false
  });
  return body;
}

/**
 * An awaitable hello (`maxAwaitTimeMS` + `topologyVersion`) answers when the topology changes or
 * the wait elapses; the server's topology only changes on restart here, so it waits.
 */
async function awaitTopologyChange(ctx: CommandContext): Promise<void> {
  const maxAwait = ctx.cmd.get('maxAwaitTimeMS');
  const version = ctx.cmd.get('topologyVersion');
  if (maxAwait === undefined && version === undefined) return;
  if (maxAwait === undefined || !isDoc(version) || !isNumber(maxAwait)) {
    throw new ServerError(9, "A request with a 'topologyVersion' must include 'maxAwaitTimeMS'");
  }
  const processId = version.get('processId');
  const counter = version.get('counter');
  if (
    !(processId instanceof Object) ||
    String(processId) !== String(ctx.mongod.processId) ||
    (isNumber(counter) && toNumber(counter) !== ctx.mongod.topologyCounter)
  ) {
    return;
  }
  if (ctx.connection.closed.aborted) return;
  await new Promise<void>(resolve => {
    const timer = setTimeout(done, toNumber(maxAwait));
    function done() {
      clearTimeout(timer);
      ctx.connection.closed.removeEventListener('abort', done);
      resolve();
    }
    ctx.connection.closed.addEventListener('abort', done, { once: true });
  });
}

const hello: CommandHandler = async ctx => {
  await awaitTopologyChange(ctx);
  return helloBody(ctx, false);
};

const isMaster: CommandHandler = async ctx => {
  await awaitTopologyChange(ctx);
  return helloBody(ctx, true);
};

const buildInfo: CommandHandler = ctx => {
  const version = ctx.mongod.profile.version;
  return {
    version,
    gitVersion: '0000000000000000000000000000000000000000',
    allocator: 'tcmalloc',
    javascriptEngine: 'mozjs',
    sysInfo: 'deprecated',
    versionArray: [...version.split('.').map(n => new Int32(Number(n))), new Int32(0)],
    openssl: { running: 'disabled', compiled: 'disabled' },
    buildEnvironment: {
      distmod: 'mongo-replicate-test-server',
      target_arch: 'x86_64',
      target_os: 'linux'
    },
    bits: new Int32(64),
    debug: false,
    maxBsonObjectSize: new Int32(16 * 1024 * 1024),
    storageEngines: ['devnull', 'ephemeralForTest', 'wiredTiger'],
    modules: []
  };
};

function parameters(mongod: Mongod): Record<string, unknown> {
  return {
    featureCompatibilityVersion: { version: mongod.profile.fcv },
    enableTestCommands: true,
    authenticationMechanisms: ['SCRAM-SHA-1', 'SCRAM-SHA-256'],
    logLevel: new Int32(0),
    transactionLifetimeLimitSeconds: new Int32(60),
    cursorTimeoutMillis: Long.fromNumber(600_000),
    maxBSONDepth: new Int32(200)
  };
}

const getParameter: CommandHandler = ctx => {
  const all = parameters(ctx.mongod);
  const selector = ctx.cmd.get('getParameter');
  if (selector === '*') return all;
  const out: Record<string, unknown> = {};
  for (const field of ctx.cmd.keys()) {
    if (
      field === 'getParameter' ||
      field.startsWith('$') ||
      field === 'lsid' ||
      field === 'comment'
    )
      continue;
    if (!(field in all)) throw new ServerError(72, 'no option found to get');
    out[field] = all[field];
  }
  if (Object.keys(out).length === 0) throw new ServerError(72, 'no option found to get');
  return out;
};

const serverStatus: CommandHandler = ctx => {
  const { mongod } = ctx;
  return {
    host: mongod.host,
    version: mongod.profile.version,
    process: 'mongod',
    pid: Long.fromNumber(process.pid),
    uptime: new Double(Math.floor((Date.now() - mongod.startedAt.getTime()) / 1000)),
    uptimeMillis: Long.fromNumber(Date.now() - mongod.startedAt.getTime()),
    localTime: new Date(),
    connections: { current: new Int32(0), available: new Int32(1000), totalCreated: new Int32(0) },
    opcounters: {
      insert: Long.ZERO,
      query: Long.ZERO,
      update: Long.ZERO,
      delete: Long.ZERO,
      getmore: Long.ZERO,
      command: Long.ZERO
    },
    repl: {
      topologyVersion: topologyVersion(mongod),
      hosts: [mongod.host],
      setName: mongod.replSetName,
      setVersion: new Int32(1),
      isWritablePrimary: true,
      secondary: false,
      primary: mongod.host,
      me: mongod.host,
      electionId: mongod.electionId,
      lastWrite: { opTime: mongod.lastOpTime(), lastWriteDate: mongod.oplog.lastWall }
    },
    storageEngine: { name: 'wiredTiger', supportsCommittedReads: true, persistent: false }
  };
};

const replSetGetStatus: CommandHandler = ctx => {
  const { mongod } = ctx;
  const opTime = mongod.lastOpTime();
  const date = mongod.oplog.lastWall;
  return {
    set: mongod.replSetName,
    date: new Date(),
    myState: new Int32(1),
    term: Long.fromNumber(mongod.oplog.term),
    heartbeatIntervalMillis: Long.fromNumber(2000),
    majorityVoteCount: new Int32(1),
    writeMajorityCount: new Int32(1),
    votingMembersCount: new Int32(1),
    writableVotingMembersCount: new Int32(1),
    optimes: {
      lastCommittedOpTime: opTime,
      lastCommittedWallTime: date,
      readConcernMajorityOpTime: opTime,
      appliedOpTime: opTime,
      durableOpTime: opTime,
      lastAppliedWallTime: date,
      lastDurableWallTime: date
    },
    members: [
      {
        _id: new Int32(0),
        name: mongod.host,
        health: new Double(1),
        state: new Int32(1),
        stateStr: 'PRIMARY',
        uptime: new Int32(Math.floor((Date.now() - mongod.startedAt.getTime()) / 1000)),
        optime: opTime,
        optimeDate: date,
        lastAppliedWallTime: date,
        lastDurableWallTime: date,
        syncSourceHost: '',
        syncSourceId: new Int32(-1),
        infoMessage: '',
        electionTime: new Timestamp({ t: Math.floor(mongod.startedAt.getTime() / 1000), i: 1 }),
        electionDate: mongod.startedAt,
        configVersion: new Int32(1),
        configTerm: new Int32(mongod.oplog.term),
        self: true,
        lastHeartbeatMessage: ''
      }
    ]
  };
};

const ok: CommandHandler = () => ({});

const getLog: CommandHandler = ctx => {
  const which = ctx.cmd.get('getLog');
  if (which === '*') return { names: ['global', 'startupWarnings'] };
  return { totalLinesWritten: new Int32(0), log: [] };
};

const hostInfo: CommandHandler = () => ({
  system: {
    currentTime: new Date(),
    hostname: 'localhost',
    cpuAddrSize: new Int32(64),
    memSizeMB: Long.fromNumber(1024),
    numCores: new Int32(2),
    cpuArch: 'x86_64'
  },
  os: { type: 'Linux', name: 'mongo-replicate test server', version: '' },
  extra: {}
});

const getCmdLineOpts: CommandHandler = ctx => ({
  argv: ['mongod', '--replSet', ctx.mongod.replSetName],
  parsed: {
    net: { bindIp: '127.0.0.1', port: new Int32(Number(ctx.mongod.host.split(':')[1])) },
    replication: { replSet: ctx.mongod.replSetName },
    storage: { engine: 'wiredTiger' }
  }
});

const connectionStatus: CommandHandler = () => ({
  authInfo: { authenticatedUsers: [], authenticatedUserRoles: [] }
});

const whatsmyuri: CommandHandler = () => ({ you: '127.0.0.1:0' });

/**
 * Without authentication every session belongs to the user `{user: '', db: ''}` (its `uid` is the
 * SHA-256 of the empty user name), so kill commands naming that user reach every session.
 */
function isUnauthenticatedUser(value: BValue): boolean {
  return isDoc(value) && value.get('user') === '' && value.get('db') === '';
}

/** Replies that drivers expect exactly when a session is used without auth (SHA-256 of ""). */
export function sessionUid(): Binary {
  return new Binary(Buffer.from('47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=', 'base64'), 0);
}

export const handshakeCommands: Record<string, CommandHandler> = {
  hello,
  isMaster,
  ismaster: isMaster,
  ping: ok,
  buildInfo,
  buildinfo: buildInfo,
  getParameter,
  serverStatus,
  replSetGetStatus,
  ...replSetConfigCommands,
  endSessions: ctx => {
    const ids = ctx.cmd.get('endSessions');
    if (Array.isArray(ids)) ctx.mongod.sessions.end(ids);
    return {};
  },
  killSessions: ctx => {
    const ids = ctx.cmd.get('killSessions');
    if (Array.isArray(ids)) ctx.mongod.sessions.kill(ids);
    return {};
  },
  killAllSessions: ctx => {
    const users = ctx.cmd.get('killAllSessions');
    if (Array.isArray(users) && (users.length === 0 || users.some(isUnauthenticatedUser))) {
      ctx.mongod.sessions.abortAll();
    }
    return {};
  },
  killAllSessionsByPattern: ctx => {
    const patterns = ctx.cmd.get('killAllSessionsByPattern');
    if (!Array.isArray(patterns)) return {};
    if (patterns.length === 0) ctx.mongod.sessions.abortAll();
    for (const pattern of patterns) {
      if (!isDoc(pattern)) continue;
      const lsid = pattern.get('lsid');
      const uid = pattern.get('uid');
      const users = pattern.get('users');
      if (isDoc(lsid)) ctx.mongod.sessions.kill([lsid]);
      else if (uid instanceof Binary && uid.toString('base64') === sessionUid().toString('base64'))
        ctx.mongod.sessions.abortAll();
      else if (Array.isArray(users) && users.some(isUnauthenticatedUser))
        ctx.mongod.sessions.abortAll();
      else if (pattern.size === 0) ctx.mongod.sessions.abortAll();
    }
    return {};
  },
  refreshSessions: ok,
  startSession: ctx => ({
    id: { id: (ctx.cmd.get('lsid') as BDoc | undefined)?.get('id') ?? null },
    timeoutMinutes: new Int32(30)
  }),
  getLog,
  hostInfo,
  getCmdLineOpts,
  connectionStatus,
  whatsmyuri,
  getFreeMonitoringStatus: () => ({ state: 'disabled' }),
  logout: ok
};
