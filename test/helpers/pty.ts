/**
 * Runs an interactive command under a pseudo-terminal (util-linux `script`),
 * answering its prompts as a person would: each answer is typed once its
 * prompt has appeared.
 */
import { spawn } from "node:child_process";
import { cleanEnv } from "./npm-client.ts";

export interface PromptAnswer {
  readonly prompt: RegExp;
  readonly answer: string;
}

export function runInteractive(
  command: string,
  answers: readonly PromptAnswer[],
  options: { cwd: string; env: Record<string, string>; timeoutMs?: number },
): Promise<{ code: number | null; output: string }> {
  return new Promise((resolve) => {
    const child = spawn("script", ["-qec", command, "/dev/null"], {
      cwd: options.cwd,
      env: cleanEnv(options.env),
      stdio: ["pipe", "pipe", "pipe"],
    });
    let output = "";
    let next = 0;
    let seenUpTo = 0;
    let quiet: NodeJS.Timeout | undefined;
    // Type only once the prompt is drawn and the output has settled: a prompt
    // library that redraws its line, or has not yet switched the terminal to
    // raw mode, would otherwise lose keystrokes when the machine is busy.
    const answerSettledPrompt = () => {
      if (next >= answers.length) return;
      const match = answers[next].prompt.exec(output.slice(seenUpTo));
      if (!match) return;
      seenUpTo += match.index + match[0].length;
      child.stdin.write(`${answers[next].answer}\r`);
      next++;
    };
    const onData = (data: Buffer) => {
      output += data.toString();
      clearTimeout(quiet);
      quiet = setTimeout(answerSettledPrompt, 150);
    };
    child.stdout.on("data", onData);
    child.stderr.on("data", onData);
    const timer = setTimeout(() => child.kill("SIGKILL"), options.timeoutMs ?? 30_000);
    child.on("exit", (code) => {
      clearTimeout(timer);
      clearTimeout(quiet);
      resolve({ code, output });
    });
  });
}
