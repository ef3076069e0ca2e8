// Calls every function of the official Pinata SDK (@pinata/sdk 2.1.0) against pinfs-emulator and
// checks the results. The SDK hard-codes https://api.pinata.cloud in its bundle; we load that
// bundle with the base URL pointed at the emulator instead (nothing else is changed).
// Env: EMULATOR_URL, PINFS_EMULATOR_JWT, PINFS_EMULATOR_API_KEY, PINFS_EMULATOR_API_SECRET,
// NODE_PATH (the cache dir's node_modules), WORK_DIR (scratch directory).
'use strict';
const assert = require('assert');
const fs = require('fs');
const path = require('path');
const Module = require('module');

function loadSdk(url) {
  const file = require.resolve('@pinata/sdk');
  const original = fs.readFileSync(file, 'utf8');
  const marker = "var baseUrl = 'https://api.pinata.cloud';";
  assert(original.includes(marker), 'SDK bundle layout changed: base URL marker not found');
  const patched = original.replace(marker, `var baseUrl = ${JSON.stringify(url)};`);
  const m = new Module(file, module);
  m.filename = file;
  m.paths = Module._nodeModulePaths(path.dirname(file));
  m._compile(patched, file);
  const exported = m.exports;
  return exported.default || exported;
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

async function expectReject(promise, what) {
  try {
    await promise;
  } catch (e) {
    return e;
  }
  throw new Error(`${what}: expected a rejection`);
}

async function main() {
  const url = process.env.EMULATOR_URL;
  const work = process.env.WORK_DIR;
  const pinataSDK = loadSdk(url);
  const byJwt = new pinataSDK({ pinataJWTKey: process.env.PINFS_EMULATOR_JWT });
  const byKeys = new pinataSDK(process.env.PINFS_EMULATOR_API_KEY, process.env.PINFS_EMULATOR_API_SECRET);
  const bad = new pinataSDK('nope', 'wrong');

  // testAuthentication, both auth styles, and a failure.
  for (const client of [byJwt, byKeys]) {
    const auth = await client.testAuthentication();
    assert.strictEqual(auth.authenticated, true);
  }
  const authErr = await expectReject(bad.testAuthentication(), 'bad credentials');
  assert.match(JSON.stringify(authErr), /INVALID_CREDENTIALS|401/);
  console.log('testAuthentication ok');

  // pinFileToIPFS with a stream, default CID version (0) and with cidVersion 1.
  const hello = path.join(work, 'hello.txt');
  fs.writeFileSync(hello, 'hello world\n');
  const r0 = await byJwt.pinFileToIPFS(fs.createReadStream(hello), {
    pinataMetadata: { name: 'hello-v0.txt', keyvalues: { color: 'red', n: 3 } },
  });
  assert.strictEqual(r0.IpfsHash, 'QmT78zSuBmuS4z925WZfrqQ1qHaJ56DQaTfyMUF7F8ff5o');
  assert.strictEqual(r0.PinSize, 20);
  assert.ok(!isNaN(Date.parse(r0.Timestamp)));
  const r1 = await byKeys.pinFileToIPFS(fs.createReadStream(hello), {
    pinataMetadata: { name: 'hello-v1.txt' },
    pinataOptions: { cidVersion: 1 },
  });
  assert.strictEqual(r1.IpfsHash, 'bafkreifjjcie6lypi6ny7amxnfftagclbuxndqonfipmb64f2km2devei4');
  assert.strictEqual(r1.PinSize, 12);
  console.log('pinFileToIPFS ok');

  // pinFromFS: a single file and a directory (parts named dir/file by the SDK).
  const single = path.join(work, 'single.txt');
  fs.writeFileSync(single, 'single file from disk\n');
  const rf = await byJwt.pinFromFS(single, { pinataOptions: { cidVersion: 1 } });
  assert.match(rf.IpfsHash, /^bafkrei/);
  const site = path.join(work, 'site');
  fs.mkdirSync(site, { recursive: true });
  fs.writeFileSync(path.join(site, 'index.html'), '<h1>site</h1>\n');
  fs.writeFileSync(path.join(site, 'about.html'), '<p>about</p>\n');
  const rd = await byJwt.pinFromFS(site, { pinataMetadata: { name: 'site' }, pinataOptions: { cidVersion: 1 } });
  assert.match(rd.IpfsHash, /^bafybei/);
  const page = await fetch(`${url}/ipfs/${rd.IpfsHash}/index.html`);
  assert.strictEqual(page.status, 200);
  assert.strictEqual(await page.text(), '<h1>site</h1>\n');
  console.log('pinFromFS ok');

  // pinJSONToIPFS: the stored bytes are the JSON text.
  const rj = await byJwt.pinJSONToIPFS({ hello: 'json', n: [1, 2, 3] }, { pinataMetadata: { name: 'doc.json' } });
  assert.match(rj.IpfsHash, /^Qm/);
  const doc = await (await fetch(`${url}/ipfs/${rj.IpfsHash}`)).json();
  assert.deepStrictEqual(doc, { hello: 'json', n: [1, 2, 3] });
  console.log('pinJSONToIPFS ok');

  // hashMetadata: update, add, remove with null.
  await byJwt.hashMetadata(r0.IpfsHash, { name: 'renamed.txt', keyvalues: { color: 'blue', extra: 'x', n: null } });
  let list = await byJwt.pinList({ hashContains: r0.IpfsHash, status: 'pinned' });
  assert.strictEqual(list.rows.length, 1);
  assert.strictEqual(list.rows[0].metadata.name, 'renamed.txt');
  assert.deepStrictEqual(list.rows[0].metadata.keyvalues, { color: 'blue', extra: 'x' });
  // Nine new keys pass the SDK's own check (<= 10 per call) but make 11 on the pin: the service refuses.
  const tooMany = {};
  for (let i = 0; i < 9; i++) tooMany[`k${i}`] = `v${i}`;
  const limitErr = await expectReject(byJwt.hashMetadata(r0.IpfsHash, { keyvalues: tooMany }), 'more than 10 keyvalues');
  assert.match(JSON.stringify(limitErr), /400|KEYVALUE/);
  list = await byJwt.pinList({ hashContains: r0.IpfsHash, status: 'pinned' });
  assert.deepStrictEqual(list.rows[0].metadata.keyvalues, { color: 'blue', extra: 'x' });
  console.log('hashMetadata ok');

  // pinList with filters.
  list = await byJwt.pinList({ status: 'pinned', pageLimit: 1000 });
  const cids = list.rows.map((r) => r.ipfs_pin_hash);
  for (const c of [r0.IpfsHash, r1.IpfsHash, rf.IpfsHash, rd.IpfsHash, rj.IpfsHash]) assert.ok(cids.includes(c), c);
  const row = list.rows.find((r) => r.ipfs_pin_hash === r1.IpfsHash);
  for (const k of ['id', 'ipfs_pin_hash', 'size', 'user_id', 'date_pinned', 'date_unpinned', 'metadata', 'regions'])
    assert.ok(k in row, `pinList row lacks ${k}`);
  list = await byJwt.pinList({ metadata: { name: 'renamed', keyvalues: { color: { value: 'blue', op: 'eq' } } } });
  assert.deepStrictEqual(list.rows.map((r) => r.ipfs_pin_hash), [r0.IpfsHash]);
  list = await byJwt.pinList({ metadata: { keyvalues: { color: { value: 'bl%', op: 'like' } } } });
  assert.deepStrictEqual(list.rows.map((r) => r.ipfs_pin_hash), [r0.IpfsHash]);
  list = await byJwt.pinList({ status: 'pinned', pageLimit: 2 });
  assert.strictEqual(list.rows.length, 2);
  list = await byJwt.pinList({ status: 'pinned', pageLimit: 2, pageOffset: 4 });
  assert.strictEqual(list.rows.length, 1);
  list = await byJwt.pinList({ pinSizeMin: 13, pinSizeMax: 20, status: 'pinned' });
  assert.ok(list.rows.every((r) => r.size >= 13 && r.size <= 20));
  assert.ok(list.rows.some((r) => r.ipfs_pin_hash === r0.IpfsHash));
  console.log('pinList ok');

  // getFilesByCount pages through pinList.
  const seen = [];
  for await (const item of byJwt.getFilesByCount({ status: 'pinned' }, 3)) seen.push(item.ipfs_pin_hash);
  assert.strictEqual(seen.length, 3);
  console.log('getFilesByCount ok');

  // pinByHash of held content pins; of unknown content waits in pinJobs.
  const known = await byJwt.pinByHash(r1.IpfsHash, { pinataMetadata: { name: 'by-hash' } });
  assert.strictEqual(known.ipfsHash, r1.IpfsHash);
  assert.ok(['prechecking', 'searching'].includes(known.status));
  const unknownCid = 'bafkreigoswsg4iddq6gqexlizzkduic652iolmy2mwolrr6bbd5twezucq';
  const unknown = await byJwt.pinByHash(unknownCid, {
    pinataMetadata: { name: 'missing' },
    pinataOptions: { hostNodes: ['/ip4/127.0.0.1/tcp/4001/p2p/QmT78zSuBmuS4z925WZfrqQ1qHaJ56DQaTfyMUF7F8ff5o'] },
  });
  assert.strictEqual(unknown.ipfsHash, unknownCid);
  await sleep(1200);
  list = await byJwt.pinList({ metadata: { name: 'by-hash' }, status: 'pinned' });
  assert.strictEqual(list.rows.length, 1);
  const jobs = await byJwt.pinJobs({ ipfs_pin_hash: unknownCid, sort: 'ASC', limit: 10 });
  assert.strictEqual(jobs.count, 1);
  assert.strictEqual(jobs.rows[0].status, 'searching');
  assert.strictEqual(jobs.rows[0].id, unknown.id);
  const noJobs = await byJwt.pinJobs({ ipfs_pin_hash: r1.IpfsHash });
  assert.strictEqual(noJobs.count, 0);
  console.log('pinByHash/pinJobs ok');

  // userPinnedDataTotal and unpin.
  const before = await byJwt.userPinnedDataTotal();
  assert.ok(before.pin_count >= 6);
  await byJwt.unpin(rj.IpfsHash);
  const after = await byJwt.userPinnedDataTotal();
  assert.strictEqual(after.pin_count, before.pin_count - 1);
  list = await byJwt.pinList({ hashContains: rj.IpfsHash, status: 'unpinned' });
  assert.strictEqual(list.rows.length, 1);
  assert.ok(list.rows[0].date_unpinned);
  await expectReject(byJwt.unpin(rj.IpfsHash), 'unpin twice');
  console.log('userPinnedDataTotal/unpin ok');

  console.log('CONFORMANCE OK');
}

main().catch((e) => {
  console.error('CONFORMANCE FAILED:', e && e.stack ? e.stack : e);
  process.exit(1);
});
