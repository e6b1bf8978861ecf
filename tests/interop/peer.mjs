// The libxmtp reference peer for Switchboard's interop tests.
//
// Owns: a set of named @xmtp/node-sdk clients (libxmtp underneath) driven by pytest over JSON lines.
// Protocol: one request per stdin line, {"id": n, "op": "...", ...args}; one response per stdout line,
// {"id": n, "ok": true, "result": ...} or {"id": n, "ok": false, "error": "<libxmtp error string>"}.
// Requests run concurrently (a `streamNext` may wait while other ops go on). Everything else the process
// prints goes to stderr, so stdout carries nothing but responses.

import { randomBytes } from "node:crypto";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createInterface } from "node:readline";

import { ApiUrls, Client, encodeText } from "@xmtp/node-sdk";
import { hexToBytes } from "viem";
import { generatePrivateKey, privateKeyToAccount } from "viem/accounts";

// The SDK and libxmtp write warnings with console.*; they must not corrupt the response channel.
for (const level of ["log", "info", "warn", "debug", "trace"]) {
  console[level] = (...args) => process.stderr.write(`[peer ${level}] ${args.map(String).join(" ")}\n`);
}

// The bindings package does not export its package.json, so read the installed files directly.
function installedVersion(pkg) {
  const url = new URL(`./node_modules/${pkg}/package.json`, import.meta.url);
  return JSON.parse(readFileSync(url, "utf8")).version;
}
const SDK_VERSION = installedVersion("@xmtp/node-sdk");
const BINDINGS_VERSION = installedVersion("@xmtp/node-bindings");

// node-bindings' `const enum`s do not exist at run time; these are their 1.9.1 numeric values.
const IDENTIFIER_KIND_ETHEREUM = 0;
const CONVERSATION_TYPE = { 0: "dm", 1: "group", 2: "sync", 3: "oneshot" };
const MESSAGE_KIND = { 0: "application", 1: "membership_change" };
const DELIVERY_STATUS = { 0: "unpublished", 1: "published", 2: "failed" };
const REACTION_ACTION = { added: 1, removed: 2 };
const REACTION_SCHEMA = { unicode: 1, shortcode: 2, custom: 3 };

const DEFAULT_STREAM_WAIT_MS = 30000;

/** name -> {client, address, setup (how to open it again), stream, queue, waiters} */
const clients = new Map();

function log(...parts) {
  process.stderr.write(`[peer] ${parts.join(" ")}\n`);
}

function errorText(err) {
  if (err instanceof Error) {
    const code = err.code && err.code !== "GenericFailure" ? ` [${err.code}]` : "";
    return `${err.message}${code}`;
  }
  return String(err);
}

// JSON cannot carry bigint, Uint8Array or Map; tests read bytes as hex and big numbers as strings.
function toJsonable(value) {
  if (typeof value === "bigint") return value.toString();
  if (value instanceof Uint8Array) return { hex: Buffer.from(value).toString("hex") };
  if (value instanceof Map) return Object.fromEntries([...value].map(([k, v]) => [k, toJsonable(v)]));
  if (Array.isArray(value)) return value.map(toJsonable);
  if (value instanceof Date) return value.toISOString();
  if (value && typeof value === "object") {
    const out = {};
    for (const [k, v] of Object.entries(value)) {
      if (v !== undefined && typeof v !== "function") out[k] = toJsonable(v);
    }
    return out;
  }
  return value;
}

function write(response) {
  process.stdout.write(`${JSON.stringify(toJsonable(response))}\n`);
}

function need(args, key) {
  const value = args[key];
  if (value === undefined || value === null) throw new Error(`peer: missing argument "${key}"`);
  return value;
}

function entry(args) {
  const name = need(args, "name");
  const found = clients.get(name);
  if (!found) throw new Error(`peer: no client named "${name}"`);
  return found;
}

function makeSigner(account) {
  return {
    type: "EOA",
    getIdentifier: () => ({
      identifier: account.address.toLowerCase(),
      identifierKind: IDENTIFIER_KIND_ETHEREUM,
    }),
    signMessage: async (message) => hexToBytes(await account.signMessage({ message })),
  };
}

function ethereum(address) {
  return { identifier: address.toLowerCase(), identifierKind: IDENTIFIER_KIND_ETHEREUM };
}

function contentTypeString(ct) {
  if (!ct) return null;
  return `${ct.authorityId}/${ct.typeId}:${ct.versionMajor}.${ct.versionMinor}`;
}

function describeMessage(msg) {
  return {
    id: msg.id,
    conversationId: msg.conversationId,
    senderInboxId: msg.senderInboxId,
    contentType: contentTypeString(msg.contentType),
    contentTypeId: msg.contentType,
    content: msg.content ?? null,
    fallback: msg.fallback ?? null,
    kind: MESSAGE_KIND[msg.kind] ?? msg.kind,
    deliveryStatus: DELIVERY_STATUS[msg.deliveryStatus] ?? msg.deliveryStatus,
    sentAtNs: msg.sentAtNs,
    // libxmtp folds reactions into the message they point at instead of listing them on their own.
    reactions: (msg.reactions ?? []).map(describeMessage),
  };
}

async function describeConversation(convo) {
  const meta = await convo.metadata();
  const type = CONVERSATION_TYPE[meta.conversationType] ?? String(meta.conversationType);
  const members = await convo.members();
  return {
    id: convo.id,
    type,
    name: type === "group" ? convo.name : null,
    peerInboxId: type === "dm" ? convo.peerInboxId : null,
    creatorInboxId: meta.creatorInboxId,
    memberInboxIds: members.map((m) => m.inboxId).sort(),
    isActive: convo.isActive,
  };
}

// A conversation another client created is only known after a sync, so look once more after one.
async function conversation(client, id) {
  let convo = await client.conversations.getConversationById(id);
  if (!convo) {
    await client.conversations.sync();
    convo = await client.conversations.getConversationById(id);
  }
  if (!convo) throw new Error(`peer: conversation ${id} not found after conversations.sync()`);
  return convo;
}

function decodeEncoded(encoded) {
  const type = need(encoded, "type");
  const contentHex = need(encoded, "contentHex");
  return {
    type: {
      authorityId: need(type, "authorityId"),
      typeId: need(type, "typeId"),
      versionMajor: type.versionMajor ?? 1,
      versionMinor: type.versionMinor ?? 0,
    },
    parameters: encoded.parameters ?? {},
    fallback: encoded.fallback ?? undefined,
    compression: encoded.compression ?? undefined,
    content: Buffer.from(contentHex, "hex"),
  };
}

// A codec that hands the EncodedContent back untouched, so tests can read content types libxmtp
// does not know (the SDK drops the content of any custom type it has no codec for).
function rawCodec(typeString) {
  const match = /^([^/]+)\/([^:]+):(\d+)\.(\d+)$/.exec(typeString);
  if (!match) throw new Error(`peer: bad content type "${typeString}" (want authority/type:major.minor)`);
  const contentType = {
    authorityId: match[1],
    typeId: match[2],
    versionMajor: Number(match[3]),
    versionMinor: Number(match[4]),
  };
  return {
    contentType,
    encode: (encoded) => encoded,
    decode: (encoded) => ({
      parameters: encoded.parameters ?? {},
      fallback: encoded.fallback ?? null,
      content: encoded.content,
    }),
    fallback: () => undefined,
    shouldPush: () => false,
  };
}

async function openClient(name, setup) {
  const account = privateKeyToAccount(setup.privateKey);
  // node-sdk 5.5.0 resolves the inbox id through ApiUrls[env] and ignores apiUrl for that call.
  ApiUrls.local = setup.apiUrl;
  const client = await Client.create(makeSigner(account), {
    env: "local",
    apiUrl: setup.apiUrl,
    historySyncUrl: null,
    disableDeviceSync: true,
    dbPath: setup.dbPath,
    dbEncryptionKey: setup.dbEncryptionKey,
    loggingLevel: process.env.XMTP_PEER_LIBXMTP_LOG || "Off",
    codecs: setup.rawContentTypes.map(rawCodec),
  });
  const state = {
    client,
    address: account.address.toLowerCase(),
    setup,
    stream: null,
    queue: [],
    waiters: [],
    streamFailures: 0,
    streamRestarts: 0,
  };
  clients.set(name, state);
  log(`opened ${name} inbox=${client.inboxId} installation=${client.installationId}`);
  return state;
}

function describeClient(state) {
  return {
    inboxId: state.client.inboxId,
    installationId: state.client.installationId,
    address: state.address,
    privateKey: state.setup.privateKey,
    libxmtpVersion: state.client.libxmtpVersion ?? null,
  };
}

async function stopStream(state) {
  if (state.stream) await state.stream.end();
  state.stream = null;
  for (const waiter of state.waiters.splice(0)) waiter({ error: "stream stopped" });
  state.queue = [];
}

function pushStreamed(state, item) {
  const waiter = state.waiters.shift();
  if (waiter) waiter(item);
  else state.queue.push(item);
}

const ops = {
  async ping() {
    return { sdkVersion: SDK_VERSION, bindingsVersion: BINDINGS_VERSION, node: process.version };
  },

  async create(args) {
    const name = need(args, "name");
    const apiUrl = need(args, "apiUrl");
    if (clients.has(name)) throw new Error(`peer: client "${name}" already exists`);
    const privateKey = args.privateKey ?? generatePrivateKey();
    let dbDir = null;
    let dbPath = null;
    if (args.persist) {
      dbDir = mkdtempSync(join(tmpdir(), "xmtp-peer-"));
      dbPath = join(dbDir, `${name}.db3`);
    }
    const setup = {
      apiUrl,
      privateKey,
      dbDir,
      dbPath,
      dbEncryptionKey: new Uint8Array(randomBytes(32)),
      rawContentTypes: args.rawContentTypes ?? [],
    };
    const state = await openClient(name, setup);
    return describeClient(state);
  },

  // Drops the client and opens its database again: the same installation, as after a process restart.
  async restart(args) {
    const state = entry(args);
    if (!state.setup.dbPath) throw new Error(`peer: "${args.name}" was not created with persist: true`);
    await stopStream(state);
    clients.delete(args.name);
    return describeClient(await openClient(args.name, state.setup));
  },

  async canMessage(args) {
    const { client } = entry(args);
    const addresses = need(args, "addresses");
    const result = await client.canMessage(addresses.map(ethereum));
    const out = {};
    for (const address of addresses) {
      out[address.toLowerCase()] = Boolean(result.get(address.toLowerCase()));
    }
    return out;
  },

  async inboxIdByAddress(args) {
    const { client } = entry(args);
    return client.fetchInboxIdByIdentifier(ethereum(need(args, "address")));
  },

  async inboxState(args) {
    const { client } = entry(args);
    const state = args.inboxId
      ? (await client.preferences.fetchInboxStates([args.inboxId]))[0]
      : await client.preferences.fetchInboxState();
    if (!state) throw new Error(`peer: no inbox state for ${args.inboxId}`);
    return {
      inboxId: state.inboxId,
      recoveryIdentifier: state.recoveryIdentifier.identifier,
      identifiers: state.identifiers.map((i) => i.identifier),
      installationIds: state.installations.map((i) => i.id),
    };
  },

  async addAccount(args) {
    const { client } = entry(args);
    const privateKey = args.privateKey ?? generatePrivateKey();
    const account = privateKeyToAccount(privateKey);
    // node-sdk 5.5.0 refuses to build the request unless allowInboxReassign is true, even for a new wallet.
    await client.unsafe_addAccount(makeSigner(account), args.allowInboxReassign ?? true);
    return { address: account.address.toLowerCase(), privateKey };
  },

  async removeAccount(args) {
    const { client } = entry(args);
    await client.removeAccount(ethereum(need(args, "address")));
    return null;
  },

  async changeRecoveryAddress(args) {
    const { client } = entry(args);
    await client.changeRecoveryIdentifier(ethereum(need(args, "address")));
    return null;
  },

  async revokeInstallations(args) {
    const { client } = entry(args);
    const ids = need(args, "installationIds").map((hex) => new Uint8Array(Buffer.from(hex, "hex")));
    await client.revokeInstallations(ids);
    return null;
  },

  async createDm(args) {
    const { client } = entry(args);
    const dm = await client.conversations.createDm(need(args, "peerInboxId"));
    return describeConversation(dm);
  },

  async createGroup(args) {
    const { client } = entry(args);
    const options = args.groupName ? { groupName: args.groupName } : undefined;
    const group = await client.conversations.createGroup(need(args, "memberInboxIds"), options);
    return describeConversation(group);
  },

  async send(args) {
    const { client } = entry(args);
    const convo = await conversation(client, need(args, "conversationId"));
    if (args.encoded) return convo.send(decodeEncoded(args.encoded));
    return convo.sendText(need(args, "text"));
  },

  async react(args) {
    const { client } = entry(args);
    const convo = await conversation(client, need(args, "conversationId"));
    return convo.sendReaction({
      reference: need(args, "reference"),
      referenceInboxId: args.referenceInboxId ?? undefined,
      action: REACTION_ACTION[args.action ?? "added"],
      content: need(args, "emoji"),
      schema: REACTION_SCHEMA[args.schema ?? "unicode"],
    });
  },

  async reply(args) {
    const { client } = entry(args);
    const convo = await conversation(client, need(args, "conversationId"));
    return convo.sendReply({
      content: encodeText(need(args, "text")),
      reference: need(args, "reference"),
      referenceInboxId: args.referenceInboxId ?? undefined,
    });
  },

  async sync(args) {
    const { client } = entry(args);
    if (args.conversationId) {
      const convo = await conversation(client, args.conversationId);
      await convo.sync();
    } else {
      await client.conversations.sync();
    }
    return null;
  },

  async syncAll(args) {
    const { client } = entry(args);
    return client.conversations.syncAll();
  },

  async listConversations(args) {
    const { client } = entry(args);
    if (args.sync) await client.conversations.sync();
    const list = await client.conversations.list();
    return Promise.all(list.map(describeConversation));
  },

  async describeConversation(args) {
    const { client } = entry(args);
    const convo = await conversation(client, need(args, "conversationId"));
    if (args.sync) await convo.sync();
    return describeConversation(convo);
  },

  async messages(args) {
    const { client } = entry(args);
    const convo = await conversation(client, need(args, "conversationId"));
    if (args.sync) await convo.sync();
    const list = await convo.messages();
    return list.map(describeMessage);
  },

  async streamStart(args) {
    const state = entry(args);
    if (state.stream) throw new Error(`peer: "${args.name}" is already streaming`);
    state.stream = await state.client.conversations.streamAllMessages({
      onValue: (msg) => pushStreamed(state, { message: describeMessage(msg) }),
      onError: (err) => {
        log(`stream error for ${args.name}: ${errorText(err)}`);
        pushStreamed(state, { error: errorText(err) });
      },
      onFail: () => {
        state.streamFailures += 1;
        log(`stream failed for ${args.name}`);
      },
      onRestart: () => {
        state.streamRestarts += 1;
        log(`stream restarted for ${args.name}`);
      },
      onRetry: (n, max) => log(`stream retry ${n}/${max} for ${args.name}`),
      retryDelay: 1000,
    });
    return null;
  },

  // Waits for the next streamed message; a stream error is returned as an error so the test sees it.
  async streamNext(args) {
    const state = entry(args);
    if (!state.stream) throw new Error(`peer: "${args.name}" is not streaming (call streamStart)`);
    const waitMs = args.timeoutMs ?? DEFAULT_STREAM_WAIT_MS;
    let item = state.queue.shift();
    if (!item) {
      let resolveIt;
      const arrived = new Promise((resolve) => {
        resolveIt = resolve;
        state.waiters.push(resolve);
      });
      let timer;
      const timedOut = new Promise((resolve) => {
        timer = setTimeout(() => resolve(null), waitMs);
      });
      item = await Promise.race([arrived, timedOut]);
      clearTimeout(timer);
      if (!item) {
        state.waiters = state.waiters.filter((w) => w !== resolveIt);
        throw new Error(`peer: no streamed message for "${args.name}" within ${waitMs} ms`);
      }
    }
    if (item.error) throw new Error(`stream error: ${item.error}`);
    return item.message;
  },

  // How often the stream broke and was reopened (the SDK retries after `retryDelay`).
  async streamStatus(args) {
    const state = entry(args);
    return {
      streaming: Boolean(state.stream),
      failures: state.streamFailures,
      restarts: state.streamRestarts,
      queued: state.queue.length,
    };
  },

  async streamStop(args) {
    await stopStream(entry(args));
    return null;
  },

  async debugInfo(args) {
    const { client } = entry(args);
    const convo = await conversation(client, need(args, "conversationId"));
    if (args.sync) await convo.sync();
    return convo.debugInfo();
  },

  async updateName(args) {
    const { client } = entry(args);
    const group = await conversation(client, need(args, "conversationId"));
    await group.updateName(need(args, "groupName"));
    return null;
  },

  async groupName(args) {
    const { client } = entry(args);
    const group = await conversation(client, need(args, "conversationId"));
    if (args.sync ?? true) await group.sync();
    return group.name;
  },

  async members(args) {
    const { client } = entry(args);
    const convo = await conversation(client, need(args, "conversationId"));
    if (args.sync) await convo.sync();
    const members = await convo.members();
    return members.map((m) => ({ inboxId: m.inboxId, installationIds: m.installationIds }));
  },

  async addMembers(args) {
    const { client } = entry(args);
    const group = await conversation(client, need(args, "conversationId"));
    await group.addMembers(need(args, "inboxIds"));
    return null;
  },

  async removeMembers(args) {
    const { client } = entry(args);
    const group = await conversation(client, need(args, "conversationId"));
    await group.removeMembers(need(args, "inboxIds"));
    return null;
  },

  async addAdmin(args) {
    const { client } = entry(args);
    const group = await conversation(client, need(args, "conversationId"));
    await group.addAdmin(need(args, "inboxId"));
    return null;
  },

  async addSuperAdmin(args) {
    const { client } = entry(args);
    const group = await conversation(client, need(args, "conversationId"));
    await group.addSuperAdmin(need(args, "inboxId"));
    return null;
  },

  async updateDescription(args) {
    const { client } = entry(args);
    const group = await conversation(client, need(args, "conversationId"));
    await group.updateDescription(need(args, "description"));
    return null;
  },

  async groupInfo(args) {
    const { client } = entry(args);
    const group = await conversation(client, need(args, "conversationId"));
    if (args.sync ?? true) await group.sync();
    return {
      name: group.name,
      description: group.description,
      imageUrl: group.imageUrl,
      admins: group.listAdmins(),
      superAdmins: group.listSuperAdmins(),
      isActive: group.isActive,
    };
  },

  async close(args) {
    const state = entry(args);
    await stopStream(state);
    clients.delete(args.name);
    if (state.setup.dbDir) rmSync(state.setup.dbDir, { recursive: true, force: true });
    return null;
  },

  async shutdown() {
    setImmediate(exit);
    return null;
  },
};

async function handle(line) {
  let request;
  try {
    request = JSON.parse(line);
  } catch (err) {
    log(`unparseable request line: ${line}`);
    return;
  }
  const { id, op, ...args } = request;
  const fn = ops[op];
  if (!fn) {
    write({ id, ok: false, error: `peer: unknown op "${op}"` });
    return;
  }
  try {
    const result = await fn(args);
    write({ id, ok: true, result: result ?? null });
  } catch (err) {
    log(`op ${op} (id ${id}) failed: ${errorText(err)}`);
    write({ id, ok: false, error: errorText(err) });
  }
}

function exit() {
  for (const state of clients.values()) {
    if (state.setup.dbDir) rmSync(state.setup.dbDir, { recursive: true, force: true });
  }
  process.exit(0);
}

process.on("unhandledRejection", (reason) => log(`unhandled rejection: ${errorText(reason)}`));

// End of stdin means the driver is done: answer what is in flight, then leave.
const inFlight = new Set();
const input = createInterface({ input: process.stdin });
input.on("line", (line) => {
  if (!line.trim()) return;
  const done = handle(line);
  inFlight.add(done);
  void done.finally(() => inFlight.delete(done));
});
input.on("close", () => {
  void Promise.allSettled([...inFlight]).then(exit);
});
log(`ready: node-sdk ${SDK_VERSION}, node-bindings ${BINDINGS_VERSION}, node ${process.version}`);
