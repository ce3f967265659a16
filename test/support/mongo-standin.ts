/**
 * A loopback MongoDB server stand-in speaking the real wire protocol, for tests.
 *
 * The official `mongodb` driver connects to it with `mongodb://127.0.0.1:PORT/?directConnection=true`.
 * Frames: OP_QUERY (2004) for the legacy first handshake (answered with OP_REPLY, 1) and OP_MSG (2013)
 * with kind-0 bodies and kind-1 document sequences. Documents are kept in memory; queries and
 * pipelines are evaluated by `mingo`. Authentication: SCRAM-SHA-256 against the configured users.
 */
import * as net from 'node:net';
import * as crypto from 'node:crypto';
import { Binary, Long, ObjectId, deserialize, serialize, type Document } from 'bson';
import { Aggregator, Query, ProcessingMode } from 'mingo';

const OP_REPLY = 1;
const OP_QUERY = 2004;
const OP_MSG = 2013;
const MORE_TO_COME = 1 << 1;
const CHECKSUM_PRESENT = 1 << 0;
const MAX_BSON = 16 * 1024 * 1024;
const MAX_MESSAGE = 48_000_000;
const DEFAULT_BATCH = 101;
const SCRAM_ITERATIONS = 4096;

export interface MongoStandInOptions {
  users?: { username: string; password: string }[];
}

class CommandError extends Error {
  constructor(message: string, readonly code: number, readonly codeName: string) {
    super(message);
  }
}

interface OpenCursor {
  ns: string;
  docs: Document[];
}

interface ScramState {
  username: string;
  clientFirstBare: string;
  serverFirst: string;
  nonce: string;
  salt: Buffer;
}

interface ConnState {
  id: number;
  authenticated: boolean;
  conversations: Map<number, ScramState>;
}

export class MongoStandIn {
  private server: net.Server | undefined;
  private readonly sockets = new Set<net.Socket>();
  private readonly dbs = new Map<string, Map<string, Document[]>>();
  private readonly cursors = new Map<number, OpenCursor>();
  private readonly received: string[] = [];
  private readonly users: { username: string; password: string }[];
  private nextCursorId = 1_000_001;
  private nextConnectionId = 1;
  private nextConversationId = 1;
  private requestId = 1;
  private port = 0;

  constructor(options: MongoStandInOptions = {}) {
    this.users = options.users ?? [];
  }

  /** Command names received, in order (handshakes included). */
  get commands(): string[] {
    return [...this.received];
  }

  get url(): string {
    if (!this.server) throw new Error('MongoStandIn not started');
    return `mongodb://127.0.0.1:${this.port}/?directConnection=true`;
  }

  /** Ids of cursors still open (for tests: a closed driver cursor must have been killed). */
  get openCursorIds(): number[] {
    return [...this.cursors.keys()];
  }

  async start(): Promise<void> {
    const server = net.createServer((socket) => this.accept(socket));
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(0, '127.0.0.1', () => {
        server.off('error', reject);
        resolve();
      });
    });
    this.port = (server.address() as net.AddressInfo).port;
    this.server = server;
  }

  async stop(): Promise<void> {
    const server = this.server;
    this.server = undefined;
    for (const s of this.sockets) s.destroy();
    this.sockets.clear();
    if (server) await new Promise<void>((resolve) => server.close(() => resolve()));
  }

  /** Put documents straight into a collection (copies them). */
  seed(db: string, collection: string, docs: object[]): void {
    const coll = this.collection(db, collection, true)!;
    for (const d of docs) coll.push(this.copy({ _id: new ObjectId(), ...(d as Document) }));
  }

  // ---- plumbing ------------------------------------------------------------------------------

  private accept(socket: net.Socket): void {
    this.sockets.add(socket);
    const state: ConnState = { id: this.nextConnectionId++, authenticated: this.users.length === 0, conversations: new Map() };
    let pending: Buffer = Buffer.alloc(0);
    socket.on('data', (chunk: Buffer) => {
      pending = pending.length ? Buffer.concat([pending, chunk]) : chunk;
      while (pending.length >= 4) {
        const len = pending.readInt32LE(0);
        if (len < 16 || len > MAX_MESSAGE) {
          socket.destroy();
          return;
        }
        if (pending.length < len) break;
        const msg = pending.subarray(0, len);
        pending = pending.subarray(len);
        try {
          const reply = this.handleMessage(msg, state);
          if (reply && !socket.destroyed) socket.write(reply);
        } catch {
          socket.destroy();
          return;
        }
      }
    });
    socket.on('error', () => undefined);
    socket.on('close', () => this.sockets.delete(socket));
  }

  private handleMessage(msg: Buffer, state: ConnState): Buffer | undefined {
    const requestId = msg.readInt32LE(4);
    const opCode = msg.readInt32LE(12);
    if (opCode === OP_QUERY) {
      let p = 20; // header + flags
      const end = msg.indexOf(0, p);
      const fullName = msg.toString('utf8', p, end);
      p = end + 1 + 8; // skip, return
      const size = msg.readInt32LE(p);
      const query = deserialize(msg.subarray(p, p + size));
      const db = fullName.endsWith('.$cmd') ? fullName.slice(0, -5) : fullName;
      const body = query.$query && typeof query.$query === 'object' ? query.$query : query;
      const reply = this.runCommand(db, body, state);
      return this.frame(OP_REPLY, requestId, Buffer.concat([this.replyPrefix(), serialize(reply)]));
    }
    if (opCode === OP_MSG) {
      const flags = msg.readUInt32LE(16);
      const end = flags & CHECKSUM_PRESENT ? msg.length - 4 : msg.length;
      let p = 20;
      let body: Document | undefined;
      const sequences: Record<string, Document[]> = {};
      while (p < end) {
        const kind = msg[p++];
        if (kind === 0) {
          const size = msg.readInt32LE(p);
          body = deserialize(msg.subarray(p, p + size));
          p += size;
        } else if (kind === 1) {
          const size = msg.readInt32LE(p);
          const stop = p + size;
          const idEnd = msg.indexOf(0, p + 4);
          const ident = msg.toString('utf8', p + 4, idEnd);
          let q = idEnd + 1;
          const docs: Document[] = [];
          while (q < stop) {
            const dsize = msg.readInt32LE(q);
            docs.push(deserialize(msg.subarray(q, q + dsize)));
            q += dsize;
          }
          sequences[ident] = docs;
          p = stop;
        } else {
          throw new Error(`unknown OP_MSG section kind ${kind}`);
        }
      }
      if (!body) throw new Error('OP_MSG without a body');
      for (const [k, v] of Object.entries(sequences)) body[k] = v;
      const db = typeof body.$db === 'string' ? body.$db : 'admin';
      const reply = this.runCommand(db, body, state);
      if (flags & MORE_TO_COME) return undefined;
      const doc = serialize(reply);
      const head = Buffer.alloc(5);
      head.writeUInt32LE(0, 0);
      head[4] = 0;
      return this.frame(OP_MSG, requestId, Buffer.concat([head, doc]));
    }
    throw new Error(`unsupported opcode ${opCode}`);
  }

  private replyPrefix(): Buffer {
    const b = Buffer.alloc(20); // responseFlags, cursorID (0), startingFrom, numberReturned
    b.writeInt32LE(0, 0);
    b.writeBigInt64LE(0n, 4);
    b.writeInt32LE(0, 12);
    b.writeInt32LE(1, 16);
    return b;
  }

  private frame(opCode: number, responseTo: number, payload: Buffer): Buffer {
    const header = Buffer.alloc(16);
    header.writeInt32LE(16 + payload.length, 0);
    header.writeInt32LE(this.requestId++, 4);
    header.writeInt32LE(responseTo, 8);
    header.writeInt32LE(opCode, 12);
    return Buffer.concat([header, payload]);
  }

  // ---- commands --------------------------------------------------------------------------------

  private runCommand(db: string, body: Document, state: ConnState): Document {
    const name = Object.keys(body)[0] ?? '';
    this.received.push(name);
    try {
      return { ...this.dispatch(name, db, body, state), ok: 1 };
    } catch (e) {
      if (e instanceof CommandError) return { ok: 0, errmsg: e.message, code: e.code, codeName: e.codeName };
      return { ok: 0, errmsg: e instanceof Error ? e.message : String(e), code: 8000, codeName: 'InternalError' };
    }
  }

  private dispatch(name: string, db: string, body: Document, state: ConnState): Document {
    const lower = name.toLowerCase();
    if (lower === 'hello' || lower === 'ismaster') return this.hello(body, state);
    if (name === 'saslStart') return this.saslStart(db, body, state);
    if (name === 'saslContinue') return this.saslContinue(body, state);
    if (name === 'ping') return {};
    if (name === 'buildInfo' || name === 'buildinfo') {
      return { version: '7.0.0', versionArray: [7, 0, 0, 0], gitVersion: 'standin', bits: 64, maxBsonObjectSize: MAX_BSON };
    }
    if (name === 'endSessions') return {};
    if (!state.authenticated) {
      throw new CommandError(`Command ${name} requires authentication`, 13, 'Unauthorized');
    }
    switch (name) {
      case 'getParameter':
        return this.getParameter(body);
      case 'listDatabases':
        return this.listDatabases(body);
      case 'listCollections':
        return this.listCollections(db, body);
      case 'listIndexes':
        return this.listIndexes(db, body);
      case 'find':
        return this.find(db, body);
      case 'aggregate':
        return this.aggregate(db, body);
      case 'getMore':
        return this.getMore(body);
      case 'killCursors':
        return this.killCursors(body);
      case 'count':
        return this.count(db, body);
      case 'insert':
        return this.insert(db, body);
      case 'drop':
        return this.drop(db, body);
      case 'dropDatabase':
        this.dbs.delete(db);
        return { dropped: db };
      case 'create':
        if (this.collection(db, String(body.create))) {
          throw new CommandError(`Collection ${db}.${body.create} already exists.`, 48, 'NamespaceExists');
        }
        this.collection(db, String(body.create), true);
        return {};
      default:
        throw new CommandError(`no such command: '${name}'`, 59, 'CommandNotFound');
    }
  }

  private hello(body: Document, state: ConnState): Document {
    const reply: Document = {
      helloOk: true,
      ismaster: true,
      isWritablePrimary: true,
      maxBsonObjectSize: MAX_BSON,
      maxMessageSizeBytes: MAX_MESSAGE,
      maxWriteBatchSize: 100_000,
      localTime: new Date(),
      logicalSessionTimeoutMinutes: 30,
      connectionId: state.id,
      minWireVersion: 0,
      maxWireVersion: 21,
      readOnly: false,
    };
    if (typeof body.saslSupportedMechs === 'string') reply.saslSupportedMechs = ['SCRAM-SHA-256'];
    return reply;
  }

  private getParameter(body: Document): Document {
    const out: Document = {};
    if (body.featureCompatibilityVersion || body.getParameter === '*') out.featureCompatibilityVersion = { version: '7.0' };
    return out;
  }

  private listDatabases(body: Document): Document {
    let databases = [...this.dbs.entries()].map(([name, colls]) => ({
      name,
      sizeOnDisk: 0,
      empty: [...colls.values()].every((c) => c.length === 0),
    }));
    if (body.filter) databases = new Query(body.filter).find(databases).all() as typeof databases;
    if (body.nameOnly) return { databases: databases.map((d) => ({ name: d.name })) };
    return { databases, totalSize: 0, totalSizeMb: 0 };
  }

  private listCollections(db: string, body: Document): Document {
    const colls = this.dbs.get(db) ?? new Map<string, Document[]>();
    let entries: Document[] = [...colls.keys()].map((name) => ({
      name,
      type: 'collection',
      options: {},
      info: { readOnly: false },
      idIndex: { v: 2, key: { _id: 1 }, name: '_id_' },
    }));
    if (body.filter && Object.keys(body.filter).length) entries = new Query(body.filter).find(entries).all() as Document[];
    if (body.nameOnly) entries = entries.map((e) => ({ name: e.name, type: e.type }));
    return this.openCursor(`${db}.$cmd.listCollections`, entries, body.cursor?.batchSize);
  }

  private listIndexes(db: string, body: Document): Document {
    const name = String(body.listIndexes);
    if (!this.collection(db, name)) throw new CommandError(`ns does not exist: ${db}.${name}`, 26, 'NamespaceNotFound');
    return this.openCursor(`${db}.${name}`, [{ v: 2, key: { _id: 1 }, name: '_id_' }], body.cursor?.batchSize);
  }

  private find(db: string, body: Document): Document {
    const name = String(body.find);
    const docs = this.collection(db, name) ?? [];
    const query = new Query(body.filter ?? {}, { processingMode: ProcessingMode.CLONE_OUTPUT });
    let cursor = query.find<Document>(docs, body.projection && Object.keys(body.projection).length ? body.projection : undefined);
    if (body.sort && Object.keys(body.sort).length) cursor = cursor.sort(body.sort);
    if (body.skip) cursor = cursor.skip(Number(body.skip));
    let limit = body.limit ? Math.abs(Number(body.limit)) : 0;
    if (limit) cursor = cursor.limit(limit);
    const all = cursor.all();
    const batchSize = body.batchSize !== undefined ? Number(body.batchSize) : undefined;
    if (body.singleBatch) limit = Math.min(all.length, batchSize || all.length);
    return this.openCursor(`${db}.${name}`, body.singleBatch ? all.slice(0, limit) : all, batchSize);
  }

  private aggregate(db: string, body: Document): Document {
    const target = body.aggregate;
    const collName = typeof target === 'string' ? target : undefined;
    const docs = collName ? (this.collection(db, collName) ?? []) : [];
    const pipeline: Document[] = Array.isArray(body.pipeline) ? body.pipeline : [];
    if (body.explain) throw new CommandError('explain is not supported by the stand-in', 115, 'CommandNotSupported');
    let out: Document[];
    const first = pipeline[0];
    if (first && '$collStats' in first) {
      // The driver's estimatedDocumentCount may use {$collStats: {count: {}}}.
      out = [{ ns: `${db}.${collName}`, count: docs.length }];
      if (pipeline.length > 1) out = this.runPipeline(db, out, pipeline.slice(1));
    } else {
      for (const stage of pipeline) {
        const op = Object.keys(stage)[0];
        if (op === '$out' || op === '$merge') throw new CommandError(`${op} is not supported by the stand-in`, 115, 'CommandNotSupported');
      }
      out = this.runPipeline(db, docs, pipeline);
    }
    return this.openCursor(`${db}.${collName ?? '$cmd.aggregate'}`, out, body.cursor?.batchSize);
  }

  private runPipeline(db: string, docs: Document[], pipeline: Document[]): Document[] {
    const agg = new Aggregator(pipeline, {
      processingMode: ProcessingMode.CLONE_INPUT,
      collectionResolver: (name: string) => this.collection(db, name) ?? [],
    });
    return agg.run(docs) as Document[];
  }

  private count(db: string, body: Document): Document {
    const docs = this.collection(db, String(body.count)) ?? [];
    let cursor = new Query(body.query ?? {}).find<Document>(docs);
    if (body.skip) cursor = cursor.skip(Number(body.skip));
    if (body.limit) cursor = cursor.limit(Math.abs(Number(body.limit)));
    return { n: cursor.all().length };
  }

  private insert(db: string, body: Document): Document {
    const coll = this.collection(db, String(body.insert), true)!;
    const docs: Document[] = Array.isArray(body.documents) ? body.documents : [];
    for (const d of docs) coll.push(this.copy(d._id === undefined ? { _id: new ObjectId(), ...d } : d));
    return { n: docs.length };
  }

  private drop(db: string, body: Document): Document {
    const name = String(body.drop);
    const colls = this.dbs.get(db);
    if (!colls?.has(name)) throw new CommandError('ns not found', 26, 'NamespaceNotFound');
    colls.delete(name);
    return { ns: `${db}.${name}`, nIndexesWas: 1 };
  }

  private getMore(body: Document): Document {
    const id = Number(body.getMore);
    const cur = this.cursors.get(id);
    if (!cur) throw new CommandError(`cursor id ${id} not found`, 43, 'CursorNotFound');
    const size = body.batchSize ? Number(body.batchSize) : cur.docs.length;
    const batch = cur.docs.splice(0, size);
    const done = cur.docs.length === 0;
    if (done) this.cursors.delete(id);
    return { cursor: { id: Long.fromNumber(done ? 0 : id), ns: cur.ns, nextBatch: batch } };
  }

  private killCursors(body: Document): Document {
    const ids: unknown[] = Array.isArray(body.cursors) ? body.cursors : [];
    const killed: Long[] = [];
    const notFound: Long[] = [];
    for (const raw of ids) {
      const id = Number(raw);
      (this.cursors.delete(id) ? killed : notFound).push(Long.fromNumber(id));
    }
    return { cursorsKilled: killed, cursorsNotFound: notFound, cursorsAlive: [], cursorsUnknown: [] };
  }

  private openCursor(ns: string, docs: Document[], batchSize?: number): Document {
    const size = batchSize === undefined || batchSize === null ? DEFAULT_BATCH : Number(batchSize);
    const firstBatch = size > 0 ? docs.slice(0, size) : [];
    const rest = docs.slice(firstBatch.length);
    let id = 0;
    if (rest.length || size === 0) {
      id = this.nextCursorId++;
      this.cursors.set(id, { ns, docs: rest });
    }
    return { cursor: { id: Long.fromNumber(id), ns, firstBatch } };
  }

  // ---- SCRAM-SHA-256 -----------------------------------------------------------------------------

  private saslStart(db: string, body: Document, state: ConnState): Document {
    const fail = () => new CommandError('Authentication failed.', 18, 'AuthenticationFailed');
    if (body.mechanism !== 'SCRAM-SHA-256') throw fail();
    const text = this.payloadText(body.payload);
    const m = /^n,[^,]*,(n=([^,]*),r=([^,]*).*)$/.exec(text);
    if (!m) throw fail();
    const username = m[2].replace(/=2C/g, ',').replace(/=3D/g, '=');
    const nonce = m[3] + crypto.randomBytes(18).toString('base64');
    const salt = crypto.createHash('sha256').update(`standin-salt:${db}:${username}`).digest().subarray(0, 16);
    const serverFirst = `r=${nonce},s=${salt.toString('base64')},i=${SCRAM_ITERATIONS}`;
    const conversationId = this.nextConversationId++;
    state.conversations.set(conversationId, { username, clientFirstBare: m[1], serverFirst, nonce, salt });
    return { conversationId, done: false, payload: new Binary(Buffer.from(serverFirst)) };
  }

  private saslContinue(body: Document, state: ConnState): Document {
    const fail = () => new CommandError('Authentication failed.', 18, 'AuthenticationFailed');
    const conv = state.conversations.get(Number(body.conversationId));
    if (!conv) throw fail();
    state.conversations.delete(Number(body.conversationId));
    const text = this.payloadText(body.payload);
    const m = /^(c=[^,]*,r=([^,]*)),p=(.*)$/.exec(text);
    if (!m || m[2] !== conv.nonce) throw fail();
    const user = this.users.find((u) => u.username === conv.username);
    if (!user) throw fail();
    const salted = crypto.pbkdf2Sync(user.password.normalize('NFKC'), conv.salt, SCRAM_ITERATIONS, 32, 'sha256');
    const hmac = (key: Buffer, s: string) => crypto.createHmac('sha256', key).update(s).digest();
    const clientKey = hmac(salted, 'Client Key');
    const storedKey = crypto.createHash('sha256').update(clientKey).digest();
    const authMessage = `${conv.clientFirstBare},${conv.serverFirst},${m[1]}`;
    const clientSignature = hmac(storedKey, authMessage);
    const expected = Buffer.alloc(clientKey.length);
    for (let i = 0; i < clientKey.length; i++) expected[i] = clientKey[i] ^ clientSignature[i];
    const proof = Buffer.from(m[3], 'base64');
    if (proof.length !== expected.length || !crypto.timingSafeEqual(proof, expected)) throw fail();
    const serverSignature = hmac(hmac(salted, 'Server Key'), authMessage).toString('base64');
    state.authenticated = true;
    return { conversationId: Number(body.conversationId), done: true, payload: new Binary(Buffer.from(`v=${serverSignature}`)) };
  }

  private payloadText(payload: unknown): string {
    if (payload instanceof Binary) return Buffer.from(payload.buffer.subarray(0, payload.position)).toString('utf8');
    if (typeof payload === 'string') return payload;
    return '';
  }

  // ---- storage -----------------------------------------------------------------------------------

  private collection(db: string, name: string, create = false): Document[] | undefined {
    let colls = this.dbs.get(db);
    if (!colls) {
      if (!create) return undefined;
      colls = new Map();
      this.dbs.set(db, colls);
    }
    let coll = colls.get(name);
    if (!coll && create) {
      coll = [];
      colls.set(name, coll);
    }
    return coll;
  }

  private copy(doc: Document): Document {
    return deserialize(serialize(doc));
  }
}
