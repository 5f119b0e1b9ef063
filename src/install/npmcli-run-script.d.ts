/** The part of npm's lifecycle script runner the installer calls (the package ships no types). */
declare module "@npmcli/run-script" {
  interface RunScriptOptions {
    /** The lifecycle event: preinstall, install, postinstall, prepare, … */
    readonly event: string;
    /** The package's folder: the script's working directory. */
    readonly path: string;
    /** Its package.json, already read. */
    readonly pkg: Readonly<Record<string, unknown>>;
    readonly stdio?: "inherit" | "pipe";
    readonly binPaths?: false | readonly string[];
    readonly env?: Readonly<Record<string, string>>;
  }
  interface RunScriptResult {
    readonly code: number | null;
    readonly signal: string | null;
    readonly stdout?: string;
    readonly stderr?: string;
  }
  export default function runScript(options: RunScriptOptions): Promise<RunScriptResult>;
}
