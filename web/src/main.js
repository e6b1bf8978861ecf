// Switchboard's local chat: one browser identity (a random key kept in localStorage) on devnode's gRPC-web
// port, talking to your agent through XMTP's browser SDK (libxmtp 1.11 as WebAssembly).
//
// Where to connect comes from ./config.json (written by `switchboard run`) and can be overridden with query
// parameters: ?node=http://127.0.0.1:5557&agent=0x…  (&ephemeral=1: an in-memory database, a new installation
// each load).
import { Client, createEOASigner, encodeText } from "@xmtp/browser-sdk";
import { renderMarkdown, escapeHtml } from "./markdown.js";

const KEY_STORAGE = "switchboard.chat.key";
const ETHEREUM = 0; // IdentifierKind.Ethereum: the SDK wants the number (a string fails to deserialize as u8)
const $ = (id) => document.getElementById(id);

let client;
let current; // the open conversation
let replyTo; // the message a reply answers
let rendering = Promise.resolve();

function status(text) {
  $("status").textContent = text;
}

function browserKey() {
  let key = localStorage.getItem(KEY_STORAGE);
  if (!key || !/^0x[0-9a-f]{64}$/.test(key)) {
    const bytes = crypto.getRandomValues(new Uint8Array(32));
    key = "0x" + Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
    localStorage.setItem(KEY_STORAGE, key);
  }
  return key;
}

async function config() {
  const params = new URLSearchParams(location.search);
  let served = {};
  try {
    const response = await fetch("./config.json", { cache: "no-store" });
    if (response.ok) served = await response.json();
  } catch {
    // no config.json (e.g. `vite dev`): the query parameters or the defaults apply
  }
  return {
    node: params.get("node") || served.grpcWebUrl || "http://localhost:5557",
    agent: params.get("agent") || served.agentAddress || "",
    ephemeral: params.get("ephemeral") === "1",
  };
}

function short(id) {
  return id ? `${id.slice(0, 6)}…${id.slice(-4)}` : "?";
}

function identifier(address) {
  return { identifier: address.trim().toLowerCase(), identifierKind: ETHEREUM };
}

async function connect(cfg) {
  const signer = createEOASigner(browserKey());
  const options = { env: "local", apiUrl: cfg.node, disableDeviceSync: true, appVersion: "switchboard-chat/0" };
  const address = (await signer.getIdentifier()).identifier;
  if (cfg.ephemeral) return Client.create(signer, { ...options, dbPath: null });
  try {
    // One database per identity in the browser's private storage, so a reload keeps the installation.
    return await Client.create(signer, { ...options, dbPath: `switchboard-${address}.db3` });
  } catch (err) {
    console.warn("persistent database unavailable, using an in-memory one:", err);
    return Client.create(signer, { ...options, dbPath: null });
  }
}

async function conversationLabel(conversation) {
  if (typeof conversation.peerInboxId === "function") return `DM ${short(await conversation.peerInboxId())}`;
  return `# ${conversation.name || "(unnamed group)"}`;
}

async function listConversations() {
  const conversations = await client.conversations.list();
  const list = $("conversations");
  list.replaceChildren();
  for (const conversation of conversations) {
    const item = document.createElement("li");
    item.textContent = await conversationLabel(conversation);
    item.dataset.id = conversation.id;
    item.classList.toggle("active", current?.id === conversation.id);
    item.onclick = () => open(conversation);
    list.append(item);
  }
}

async function open(conversation) {
  current = conversation;
  replyTo = undefined;
  $("replying").hidden = true;
  $("chat-title").textContent = await conversationLabel(conversation);
  await showMembers();
  await listConversations();
  await renderMessages();
}

async function showMembers() {
  const members = await current.members();
  $("members").textContent =
    "members: " +
    members
      .map((m) => {
        const who = m.accountIdentifiers.map((a) => a.identifier).join(", ") || short(m.inboxId);
        return m.inboxId === client.inboxId ? `${who} (you)` : who;
      })
      .join(" · ");
}

function contentHtml(message) {
  const type = message.contentType?.typeId;
  const content = message.content;
  switch (type) {
    case "text":
      return escapeHtml(content ?? "");
    case "markdown":
      return renderMarkdown(content ?? "");
    case "reply": {
      const quoted = content?.inReplyTo ? plain(content.inReplyTo) : "a message";
      return `<div class="quote">${escapeHtml(quoted)}</div>${escapeHtml(plain({ content: content?.content }))}`;
    }
    case "group_updated":
      return `<em>${escapeHtml(groupUpdate(content))}</em>`;
    default:
      return `<em>${escapeHtml(message.fallback || `(${type ?? "unknown"} message)`)}</em>`;
  }
}

function plain(message) {
  const content = message?.content;
  if (typeof content === "string") return content;
  if (content && typeof content.content === "string") return content.content;
  return message?.fallback || "…";
}

function groupUpdate(update) {
  const parts = [];
  if (update?.addedInboxes?.length) parts.push(`added ${update.addedInboxes.map((i) => short(i.inboxId)).join(", ")}`);
  if (update?.removedInboxes?.length) parts.push(`removed ${update.removedInboxes.length}`);
  for (const change of update?.metadataFieldChanges ?? []) parts.push(`${change.fieldName} → ${change.newValue}`);
  return parts.length ? `group updated: ${parts.join("; ")}` : "group updated";
}

function renderMessages() {
  // Serialised: a stream event and a click may both ask for a render.
  rendering = rendering.then(renderNow, renderNow);
  return rendering;
}

async function renderNow() {
  if (!current) return;
  const conversation = current;
  const messages = (await conversation.messages()).sort((a, b) => (a.sentAtNs < b.sentAtNs ? -1 : 1));
  if (conversation !== current) return;
  const list = $("messages");
  list.replaceChildren();
  for (const message of messages) {
    const type = message.contentType?.typeId;
    if (type === "reaction" || type === "readReceipt") continue; // shown on their target
    const item = document.createElement("li");
    item.dataset.testid = "message";
    item.dataset.id = message.id;
    item.classList.toggle("mine", message.senderInboxId === client.inboxId);
    item.classList.toggle("system", type === "group_updated");
    const reactions = (message.reactions ?? [])
      .filter((r) => r.content?.action !== 2) // 2 = removed
      .map((r) => `<span title="${escapeHtml(short(r.senderInboxId))}">${escapeHtml(r.content?.content ?? "")}</span>`)
      .join("");
    item.innerHTML =
      `<div class="from">${message.senderInboxId === client.inboxId ? "you" : escapeHtml(short(message.senderInboxId))}</div>` +
      `<div class="body" data-testid="body">${contentHtml(message)}</div>` +
      (reactions ? `<div class="reactions">${reactions}</div>` : "") +
      `<div class="actions"><button data-act="reply">reply</button><button data-act="react">react 👍</button></div>`;
    item.querySelector('[data-act="reply"]').onclick = () => {
      replyTo = message;
      $("replying-text").textContent = plain(message).slice(0, 80);
      $("replying").hidden = false;
      $("text").focus();
    };
    item.querySelector('[data-act="react"]').onclick = () =>
      conversation
        .sendReaction({
          reference: message.id,
          referenceInboxId: message.senderInboxId,
          action: 1, // added
          content: "👍",
          schema: 1, // unicode
        })
        .then(renderMessages, showError);
    list.append(item);
  }
  list.scrollTop = list.scrollHeight;
}

function showError(err) {
  console.error(err);
  status(`error: ${err?.message ?? err}`);
}

async function send(event) {
  event.preventDefault();
  const text = $("text").value;
  if (!current || !text.trim()) return;
  $("text").value = "";
  if (replyTo) {
    await current.sendReply({
      reference: replyTo.id,
      referenceInboxId: replyTo.senderInboxId,
      content: await encodeText(text),
    });
    replyTo = undefined;
    $("replying").hidden = true;
  } else if ($("as-markdown").checked) {
    await current.sendMarkdown(text);
  } else {
    await current.sendText(text);
  }
  await renderMessages();
}

async function openDm(event) {
  event.preventDefault();
  const address = $("dm-address").value;
  if (!/^0x[0-9a-fA-F]{40}$/.test(address.trim())) return status("not an address: 0x + 40 hex digits");
  status(`opening a DM with ${short(address)}…`);
  const dm = await client.conversations.createDmWithIdentifier(identifier(address));
  status("ready");
  await open(dm);
}

async function createGroup(event) {
  event.preventDefault();
  const addresses = $("group-addresses").value.split(",").map((a) => a.trim()).filter(Boolean);
  const group = await client.conversations.createGroupWithIdentifiers(addresses.map(identifier), {
    groupName: $("group-name").value || undefined,
  });
  await open(group);
}

async function sync() {
  await client.conversations.syncAll([0, 1]); // unknown and allowed: an agent's new groups arrive as unknown
  await listConversations();
  if (current) {
    await current.sync();
    await showMembers();
    await renderMessages();
  }
}

async function main() {
  const cfg = await config();
  $("dm-address").value = cfg.agent;
  $("new-identity").onclick = () => {
    localStorage.removeItem(KEY_STORAGE);
    location.reload();
  };
  status(`connecting to ${cfg.node}…`);
  client = await connect(cfg);
  $("me").textContent = `you: ${client.accountIdentifier?.identifier} (inbox ${short(client.inboxId)}, libxmtp ${client.libxmtpVersion ?? "?"})`;
  status("ready");
  document.body.dataset.ready = "true";
  $("send-form").onsubmit = (e) => send(e).catch(showError);
  $("dm-form").onsubmit = (e) => openDm(e).catch(showError);
  $("group-form").onsubmit = (e) => createGroup(e).catch(showError);
  $("refresh").onclick = () => sync().catch(showError);
  $("cancel-reply").onclick = () => {
    replyTo = undefined;
    $("replying").hidden = true;
  };
  await listConversations();
  client.conversations
    .streamAllMessages({
      consentStates: [0, 1],
      onValue: (message) => {
        if (current && message.conversationId === current.id) renderMessages().catch(showError);
        else listConversations().catch(showError);
      },
      onError: (err) => console.warn("message stream:", err),
    })
    .catch(showError);
  client.conversations
    .stream({ onValue: () => listConversations().catch(showError), onError: (err) => console.warn(err) })
    .catch(showError);
}

main().catch(showError);
