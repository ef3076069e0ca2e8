// Prints the root CID the reference JavaScript importer (ipfs-unixfs-importer, npm) gives for
// a directory tree, with Kubo's defaults (fixed 262144-byte chunks, balanced, 174 links).
// Usage: node unixfs_reference.mjs <cidVersion 0|1> <base dir> <relative paths...>
// The packages live in the npm cache dir given as PINFS_NPM_CACHE (ESM resolves bare names
// from this file's location, so they are imported by path).
import fs from 'fs';
import path from 'path';
import { pathToFileURL } from 'url';

const modules = path.join(process.env.PINFS_NPM_CACHE, 'node_modules');
const entry = (pkg) => pathToFileURL(path.join(modules, pkg, 'dist', 'src', 'index.js')).href;
const { importer } = await import(entry('ipfs-unixfs-importer'));
const { MemoryBlockstore } = await import(entry('blockstore-core'));

const [version, base, ...files] = process.argv.slice(2);
const v = Number(version);
const source = files.map((rel) => ({ path: rel, content: fs.createReadStream(path.join(base, rel)) }));
const root = files[0].split('/')[0];
for await (const e of importer(source, new MemoryBlockstore(), {
  cidVersion: v,
  rawLeaves: v === 1,
  reduceSingleLeafToSelf: true,
  wrapWithDirectory: false,
})) {
  if (e.path === root) console.log(e.cid.toString());
}
