// Replays the turns recorded by tests/soak.rs (TCHAT_SOAK_OUT) through the AI SDK's
// readUIMessageStream and compares each assembled message with tchat's.
//
//   node tests/conformance/soak_check.mjs build-c/soak.jsonl
//
// A turn that continues a tool-approval message is read with `{ message: previous }`, where
// previous is the SDK's own message of the asking turn with the approval answered, as useChat's
// addToolApprovalResponse leaves it.

import { readFileSync } from "node:fs";
import { isDeepStrictEqual } from "node:util";
import { readUIMessageStream } from "ai";

const path = process.argv[2];
if (!path) {
  console.error("usage: node soak_check.mjs TRANSCRIPT.jsonl");
  process.exit(2);
}
const lines = readFileSync(path, "utf8").split("\n").filter((l) => l.trim() !== "");
const lastByConversation = new Map();
let passed = 0;
let failed = 0;

function streamOf(chunks) {
  return new ReadableStream({
    start(controller) {
      for (const c of chunks) controller.enqueue(c);
      controller.close();
    },
  });
}

function answered(message, { approvalId, approved }) {
  const copy = structuredClone(message);
  const part = copy.parts.find((p) => p.approval?.id === approvalId);
  if (!part) throw new Error(`no part asks for approval ${approvalId}`);
  part.state = "approval-responded";
  part.approval = { id: approvalId, approved };
  return copy;
}

for (const line of lines) {
  const turn = JSON.parse(line);
  let message;
  try {
    const previous = turn.continues ? answered(lastByConversation.get(turn.conversation), turn.continues) : undefined;
    for await (const m of readUIMessageStream({ message: previous, stream: streamOf(turn.chunks), terminateOnError: true })) {
      message = m;
    }
  } catch (e) {
    failed++;
    console.log(`not ok - ${turn.conversation}: the AI SDK failed on the chunks: ${e.message}`);
    continue;
  }
  lastByConversation.set(turn.conversation, message);
  if (isDeepStrictEqual(JSON.parse(JSON.stringify(message)), turn.tchat)) {
    passed++;
  } else {
    failed++;
    console.log(`not ok - ${turn.conversation}: tchat and the AI SDK assembled different messages`);
    console.log(`  ai sdk: ${JSON.stringify(message)}`);
    console.log(`  tchat:  ${JSON.stringify(turn.tchat)}`);
  }
}
console.log(`soak check: ${passed} passed, ${failed} failed`);
process.exit(failed > 0 || passed === 0 ? 1 : 0);
