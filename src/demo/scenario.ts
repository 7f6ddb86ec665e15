// The four tasks `agent-lanes demo` submits: a review that earns a verdict,
// a question, and a two-step thread whose second step must see the first
// answer. Kept as data so the demo, its test and the docs agree.

/** One demo task: the request file it writes and how it is submitted. */
export interface DemoTask {
  /** Correlation id (`--task-id`), also the label in progress lines. */
  name: string;
  kind: "review" | "question" | "thread";
  /** Request file, relative to the pool folder (the workspace root). */
  request: string;
  content: string;
  prompt: string;
  /** Set for a thread step: the name of its parent task in this scenario. */
  parent?: string;
}

export const DEMO_TASKS: readonly DemoTask[] = [
  {
    name: "review",
    kind: "review",
    request: "requests/cart-total.ts",
    content: [
      "// cart-total.ts: the change under review",
      "export function cartTotal(prices: number[], discount: number): number {",
      "  // TODO: reject a negative discount",
      "  const sum = prices.reduce((total, price) => total + price, 0);",
      "  // FIXME: rounds each step instead of the total",
      "  return Math.round(sum * (1 - discount) * 100) / 100;",
      "}",
      "",
    ].join("\n"),
    prompt: "Review this change before it merges: list blocking findings and end with a VERDICT line.",
  },
  {
    name: "question",
    kind: "question",
    request: "requests/lease-question.md",
    content: "What does a lease protect against when a dispatcher crashes mid-task?\n",
    prompt: "Answer the question in the request file in two sentences.",
  },
  {
    name: "thread-1",
    kind: "thread",
    request: "requests/thread-lanes.md",
    content: "How do lanes split the work between dispatchers?\n",
    prompt: "Start of a thread: answer the question in the request file.",
  },
  {
    name: "thread-2",
    kind: "thread",
    request: "requests/thread-claims.md",
    content: "And what does a claim give the dispatcher that holds it?\n",
    prompt: "Follow-up in the same thread: answer with the earlier answer in mind.",
    parent: "thread-1",
  },
];
