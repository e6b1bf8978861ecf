// The node-sdk 5.5.0 echo bot bench/e2e.py compares our pipeline with: the core of the Agent SDK, one client,
// `streamAllMessages` and a `sendText` per text from someone else ("T" -> "echo: T", as examples/echo.py).
//
//   node bench/e2e_bot.mjs <devnode url>
// stdout: {"inboxId": ...} once ready, then {"echoed": n, "failed": n} for every "stats" line on stdin.

import { emit, isText, newClient, stdinLines } from "./e2e_xmtp.mjs";

const client = await newClient(process.argv[2]);
const conversations = new Map(); // id -> conversation, so the hot path does not look it up each time
let echoed = 0;
let failed = 0;

async function conversation(id) {
  let convo = conversations.get(id);
  if (!convo) {
    convo = await client.conversations.getConversationById(id);
    if (!convo) {
      await client.conversations.sync();
      convo = await client.conversations.getConversationById(id);
    }
    conversations.set(id, convo);
  }
  return convo;
}

async function echo(msg) {
  try {
    await (await conversation(msg.conversationId)).sendText(`echo: ${msg.content}`);
    echoed += 1;
  } catch (err) {
    failed += 1;
    process.stderr.write(`echo failed: ${err}\n`);
  }
}

await client.conversations.streamAllMessages({
  onValue: (msg) => {
    if (process.env.E2E_BOT_DEBUG) process.stderr.write(`got ${msg.conversationId} ${msg.contentType?.typeId} from ${msg.senderInboxId}\n`);
    if (msg.senderInboxId !== client.inboxId && isText(msg)) void echo(msg);
  },
  onError: (err) => process.stderr.write(`stream error: ${err}\n`),
  retryDelay: 1000,
});
emit({ inboxId: client.inboxId });
const next = stdinLines();
for (let line = await next(); line !== null; line = await next()) {
  if (line.trim() === "stats") emit({ echoed, failed });
}
process.exit(0);
