// node-sdk 5.5.0 (libxmtp 1.9.1) clients for bench/e2e.py's echo bot and load generator, created against devnode
// as tests/interop/peer.mjs creates them. The SDK is loaded from tests/interop/node_modules (`make interop-deps`):
// bench/ has no node_modules of its own, and ESM resolution does not look elsewhere.

import { randomBytes } from "node:crypto";
import { createRequire } from "node:module";
import { pathToFileURL } from "node:url";

const require = createRequire(new URL("../tests/interop/package.json", import.meta.url));
const load = (name) => import(pathToFileURL(require.resolve(name)).href);
export const sdk = await load("@xmtp/node-sdk");
const { hexToBytes } = await load("viem");
const { generatePrivateKey, privateKeyToAccount } = await load("viem/accounts");

const IDENTIFIER_KIND_ETHEREUM = 0; // node-bindings' const enum, absent at run time

// libxmtp writes through console.*: keep stdout for the JSON lines the driver reads.
for (const level of ["log", "info", "warn", "debug", "trace"]) {
  console[level] = (...args) => process.stderr.write(`[${level}] ${args.map(String).join(" ")}\n`);
}

/** A fresh installation of a fresh wallet on `apiUrl`, its database in memory. */
export async function newClient(apiUrl) {
  const account = privateKeyToAccount(generatePrivateKey());
  sdk.ApiUrls.local = apiUrl; // node-sdk 5.5.0 resolves inbox ids through ApiUrls[env], ignoring apiUrl
  return sdk.Client.create(
    {
      type: "EOA",
      getIdentifier: () => ({ identifier: account.address.toLowerCase(), identifierKind: IDENTIFIER_KIND_ETHEREUM }),
      signMessage: async (message) => hexToBytes(await account.signMessage({ message })),
    },
    {
      env: "local",
      apiUrl,
      historySyncUrl: null,
      disableDeviceSync: true,
      dbPath: null,
      dbEncryptionKey: new Uint8Array(randomBytes(32)),
      loggingLevel: "Off",
    },
  );
}

export function isText(msg) {
  return msg.contentType?.typeId === "text" && typeof msg.content === "string";
}

export function emit(obj) {
  process.stdout.write(`${JSON.stringify(obj)}\n`);
}

/** Lines from stdin, one at a time: `await next()` resolves with the next (null at end). */
export function stdinLines() {
  const queue = [];
  const waiters = [];
  let buffer = "";
  let ended = false;
  process.stdin.setEncoding("utf8");
  process.stdin.on("data", (chunk) => {
    buffer += chunk;
    let i;
    while ((i = buffer.indexOf("\n")) >= 0) {
      const line = buffer.slice(0, i);
      buffer = buffer.slice(i + 1);
      const waiter = waiters.shift();
      if (waiter) waiter(line);
      else queue.push(line);
    }
  });
  process.stdin.on("end", () => {
    ended = true;
    for (const waiter of waiters.splice(0)) waiter(null);
  });
  return () => (queue.length ? Promise.resolve(queue.shift()) : ended ? Promise.resolve(null) : new Promise((r) => waiters.push(r)));
}
