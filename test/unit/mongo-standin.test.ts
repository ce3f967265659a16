import { strict as assert } from 'node:assert';
import * as net from 'node:net';
import { MongoClient, MongoServerError, ObjectId } from 'mongodb';
import { serialize, deserialize } from 'bson';
import { MongoStandIn } from '../support/mongo-standin';

describe('MongoStandIn (official mongodb driver over the wire protocol)', () => {
  let standin: MongoStandIn;
  let client: MongoClient;

  beforeEach(async () => {
    standin = new MongoStandIn();
    await standin.start();
    client = new MongoClient(standin.url, { serverSelectionTimeoutMS: 3000 });
    await client.connect();
  });

  afterEach(async () => {
    await client.close();
    await standin.stop();
  });

  it('connects and answers ping; the handshake came as a legacy OP_QUERY isMaster or hello', async () => {
    const r = await client.db('admin').command({ ping: 1 });
    assert.equal(r.ok, 1);
    const first = standin.commands[0]?.toLowerCase();
    assert.ok(first === 'ismaster' || first === 'hello', `first command: ${first}`);
    assert.ok(standin.commands.includes('ping'));
  });

  it('insertMany, then find with filter, projection, sort and limit', async () => {
    const coll = client.db('shop').collection('orders');
    const res = await coll.insertMany([
      { item: 'a', qty: 5, price: 10 },
      { item: 'b', qty: 1, price: 20 },
      { item: 'c', qty: 9, price: 30 },
      { item: 'd', qty: 7, price: 40 },
    ]);
    assert.equal(res.insertedCount, 4);
    assert.ok(standin.commands.includes('insert'));
    const rows = await coll
      .find({ qty: { $gte: 5 } }, { projection: { _id: 0, item: 1, qty: 1 } })
      .sort({ qty: -1 })
      .limit(2)
      .toArray();
    assert.deepEqual(rows, [
      { item: 'c', qty: 9 },
      { item: 'd', qty: 7 },
    ]);
  });

  it('iterates past the batch size with getMore, and kills the cursor on early close', async () => {
    standin.seed('db', 'nums', Array.from({ length: 25 }, (_, i) => ({ i })));
    const coll = client.db('db').collection('nums');
    const all = await coll.find({}, { batchSize: 10 }).sort({ i: 1 }).toArray();
    assert.deepEqual(
      all.map((d) => d.i),
      Array.from({ length: 25 }, (_, i) => i),
    );
    assert.equal(standin.commands.filter((c) => c === 'getMore').length, 2);
    assert.deepEqual(standin.openCursorIds, []);

    const cursor = coll.find({}, { batchSize: 5 });
    const first = await cursor.next();
    assert.ok(first);
    assert.equal(standin.openCursorIds.length, 1);
    await cursor.close();
    assert.ok(standin.commands.includes('killCursors'));
    assert.deepEqual(standin.openCursorIds, []);
  });

  it('aggregates with $match/$group/$sort, and $sample', async () => {
    standin.seed('shop', 'sales', [
      { region: 'north', amount: 10 },
      { region: 'south', amount: 5 },
      { region: 'north', amount: 7 },
      { region: 'east', amount: 1 },
      { region: 'south', amount: 20 },
    ]);
    const coll = client.db('shop').collection('sales');
    const groups = await coll
      .aggregate([
        { $match: { amount: { $gt: 1 } } },
        { $group: { _id: '$region', total: { $sum: '$amount' }, n: { $sum: 1 } } },
        { $sort: { total: -1 } },
      ])
      .toArray();
    assert.deepEqual(groups, [
      { _id: 'south', total: 25, n: 2 },
      { _id: 'north', total: 17, n: 2 },
    ]);
    const sample = await coll.aggregate([{ $sample: { size: 3 } }]).toArray();
    assert.equal(sample.length, 3);
    for (const s of sample) assert.ok(typeof s.region === 'string');
    assert.equal(await coll.countDocuments({ region: 'north' }), 2);
    assert.equal(await coll.estimatedDocumentCount(), 5);
  });

  it('$lookup joins another collection of the same database', async () => {
    standin.seed('shop', 'customers', [{ _id: 1, name: 'Ann' }, { _id: 2, name: 'Bo' }]);
    standin.seed('shop', 'orders', [{ cust: 1, total: 3 }, { cust: 1, total: 4 }, { cust: 2, total: 9 }]);
    const rows = await client
      .db('shop')
      .collection('customers')
      .aggregate([
        { $lookup: { from: 'orders', localField: '_id', foreignField: 'cust', as: 'orders' } },
        { $project: { _id: 0, name: 1, n: { $size: '$orders' } } },
        { $sort: { name: 1 } },
      ])
      .toArray();
    assert.deepEqual(rows, [
      { name: 'Ann', n: 2 },
      { name: 'Bo', n: 1 },
    ]);
  });

  it('lists databases, collections and indexes', async () => {
    standin.seed('shop', 'orders', [{ a: 1 }]);
    standin.seed('shop', 'customers', [{ b: 1 }]);
    const colls = await client.db('shop').listCollections().toArray();
    assert.deepEqual(colls.map((c) => c.name).sort(), ['customers', 'orders']);
    assert.equal(colls[0].type, 'collection');
    const names = await client.db('shop').listCollections({ name: 'orders' }, { nameOnly: true }).toArray();
    assert.deepEqual(names.map((c) => c.name), ['orders']);
    const idx = await client.db('shop').collection('orders').listIndexes().toArray();
    assert.deepEqual(idx.map((i) => i.name), ['_id_']);
    assert.deepEqual(idx[0].key, { _id: 1 });
    const dbs = await client.db('admin').admin().listDatabases();
    assert.ok(dbs.databases.some((d) => d.name === 'shop'));
  });

  it('round-trips Date and ObjectId values', async () => {
    const id = new ObjectId();
    const when = new Date('2024-03-01T12:34:56.789Z');
    const coll = client.db('t').collection('events');
    await coll.insertOne({ _id: id, when, ref: new ObjectId('65e1f0c2a1b2c3d4e5f60718') });
    const got = await coll.findOne({ _id: id });
    assert.ok(got);
    assert.ok(got._id instanceof ObjectId);
    assert.equal(got._id.toHexString(), id.toHexString());
    assert.ok(got.when instanceof Date);
    assert.equal(got.when.getTime(), when.getTime());
    assert.equal(got.ref.toHexString(), '65e1f0c2a1b2c3d4e5f60718');
    const later = await coll.find({ when: { $gt: new Date('2024-01-01') } }).toArray();
    assert.equal(later.length, 1);
  });

  it('answers an unknown command with MongoServerError CommandNotFound', async () => {
    await assert.rejects(
      () => client.db('admin').command({ frobnicate: 1 }),
      (e: unknown) => e instanceof MongoServerError && e.code === 59 && e.codeName === 'CommandNotFound' && /no such command/.test(e.message),
    );
  });

  it('reads messages split across packets and several messages in one packet', async () => {
    const frame = (requestId: number, body: object): Buffer => {
      const doc = serialize(body);
      const b = Buffer.alloc(21);
      b.writeInt32LE(21 + doc.length, 0);
      b.writeInt32LE(requestId, 4);
      b.writeInt32LE(0, 8);
      b.writeInt32LE(2013, 12);
      b.writeUInt32LE(0, 16);
      b[20] = 0;
      return Buffer.concat([b, doc]);
    };
    const sock = net.connect(Number(new URL(standin.url).port), '127.0.0.1');
    await new Promise<void>((r) => sock.once('connect', () => r()));
    const replies: Buffer[] = [];
    const done = new Promise<void>((resolve) => {
      let buf = Buffer.alloc(0);
      sock.on('data', (c: Buffer) => {
        buf = Buffer.concat([buf, c]);
        while (buf.length >= 4 && buf.length >= buf.readInt32LE(0)) {
          replies.push(buf.subarray(0, buf.readInt32LE(0)));
          buf = buf.subarray(buf.readInt32LE(0));
        }
        if (replies.length === 3) resolve();
      });
    });
    const a = frame(1, { ping: 1, $db: 'admin' });
    const b = frame(2, { buildInfo: 1, $db: 'admin' });
    const c = frame(3, { nope: 1, $db: 'admin' });
    sock.write(a.subarray(0, 7));
    await new Promise((r) => setTimeout(r, 20));
    sock.write(Buffer.concat([a.subarray(7), b, c.subarray(0, 30)]));
    await new Promise((r) => setTimeout(r, 20));
    sock.write(c.subarray(30));
    await done;
    sock.destroy();
    const docs = replies.map((r) => ({ to: r.readInt32LE(8), doc: deserialize(r.subarray(21)) }));
    assert.deepEqual(docs.map((d) => d.to), [1, 2, 3]);
    assert.equal(docs[0].doc.ok, 1);
    assert.equal(docs[1].doc.version, '7.0.0');
    assert.equal(docs[2].doc.ok, 0);
    assert.equal(docs[2].doc.code, 59);
  });
});

describe('MongoStandIn authentication', () => {
  let standin: MongoStandIn;

  beforeEach(async () => {
    standin = new MongoStandIn({ users: [{ username: 'u', password: 'right' }] });
    await standin.start();
  });

  afterEach(async () => {
    await standin.stop();
  });

  const urlWith = (auth: string) => standin.url.replace('mongodb://', `mongodb://${auth}@`) + '&authSource=admin';

  it('rejects wrong credentials with code 18 AuthenticationFailed', async () => {
    const client = new MongoClient(urlWith('u:bad'), { serverSelectionTimeoutMS: 3000 });
    try {
      await assert.rejects(
        () => client.connect(),
        (e: unknown) => e instanceof MongoServerError && e.code === 18 && e.codeName === 'AuthenticationFailed',
      );
      assert.ok(standin.commands.includes('saslStart'));
    } finally {
      await client.close();
    }
  });

  it('accepts the right credentials (SCRAM-SHA-256) and then runs commands', async () => {
    const client = new MongoClient(urlWith('u:right'), { serverSelectionTimeoutMS: 3000 });
    try {
      await client.connect();
      standin.seed('shop', 'orders', [{ a: 1 }]);
      const n = await client.db('shop').collection('orders').countDocuments();
      assert.equal(n, 1);
      assert.ok(standin.commands.includes('saslContinue'));
    } finally {
      await client.close();
    }
  });

  it('refuses data commands on an unauthenticated connection', async () => {
    const client = new MongoClient(standin.url, { serverSelectionTimeoutMS: 3000 });
    try {
      await client.connect();
      await assert.rejects(
        () => client.db('shop').collection('orders').find().toArray(),
        (e: unknown) => e instanceof MongoServerError && e.code === 13,
      );
    } finally {
      await client.close();
    }
  });
});
