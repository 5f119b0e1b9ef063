/**
 * `cairn install <pkg>` and `cairn uninstall <pkg>` edit package.json as
 * npm does: the real npm makes the same edit to the same file and the
 * texts must be equal; formatting (indent, line endings) is the file's.
 */
import assert from "node:assert/strict";
import { copyFile, mkdir, readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { describe, test } from "node:test";
import { InstallError } from "../../src/install/install-error.ts";
import {
  addDependency,
  removeDependency,
  type SaveType,
  savedSpec,
} from "../../src/install/package-json-edit.ts";
import { CORPUS_APP_LOCKFILE } from "../helpers/corpus.ts";
import { npmSandbox } from "../helpers/npm-sandbox.ts";

/** A package.json as people write them: 4-space indent, unsorted dependencies, fields after them. */
const PACKAGE_JSON = `{
    "name": "corpus-app",
    "version": "1.0.0",
    "dependencies": {
        "semver": "^7.8.6",
        "debug": "^4.4.3",
        "lodash": "^4.18.1"
    },
    "devDependencies": {
        "react": "^19.3.1"
    },
    "license": "ISC",
    "private": true
}
`;

describe("package.json edits", () => {
  const sandbox = npmSandbox();

  /** What npm leaves in package.json after `npm <args>` on PACKAGE_JSON. */
  async function npmEdit(name: string, args: string[], text = PACKAGE_JSON): Promise<string> {
    const path = join(sandbox.dir, name);
    await mkdir(path);
    await writeFile(join(path, "package.json"), text);
    await copyFile(CORPUS_APP_LOCKFILE, join(path, "package-lock.json"));
    const result = await sandbox.npm(path, [...args, "--package-lock-only", "--ignore-scripts"]);
    assert.equal(result.code, 0, result.stderr);
    return readFile(join(path, "package.json"), "utf8");
  }

  const cases: { what: string; npm: string[]; cairn: (text: string) => string; text?: string }[] = [
    {
      what: "install a new package: ^version, fields sorted",
      npm: ["install", "ms"],
      cairn: (t) => addDependency(t, "ms", savedSpec("2.1.3")),
    },
    {
      what: "install --save-exact",
      npm: ["install", "--save-exact", "ms"],
      cairn: (t) => addDependency(t, "ms", savedSpec("2.1.3", { exact: true })),
    },
    {
      what: "install --save-dev moves a dependency to devDependencies",
      npm: ["install", "--save-dev", "lodash"],
      cairn: (t) => addDependency(t, "lodash", "^4.18.1", "dev"),
    },
    {
      what: "install a dev dependency by name keeps it in devDependencies",
      npm: ["install", "react"],
      cairn: (t) => addDependency(t, "react", "^19.3.1"),
    },
    {
      what: "install --save-optional",
      npm: ["install", "--save-optional", "ms"],
      cairn: (t) => addDependency(t, "ms", "^2.1.3", "optional" satisfies SaveType),
    },
    {
      what: "install into a file written on one line",
      npm: ["install", "ms"],
      cairn: (t) => addDependency(t, "ms", "^2.1.3"),
      text: '{"name":"corpus-app","version":"1.0.0","dependencies":{"debug":"^4.4.3"}}',
    },
    {
      what: "install into a file indented with tabs and CRLF line endings",
      npm: ["install", "ms"],
      cairn: (t) => addDependency(t, "ms", "^2.1.3"),
      text: '{\r\n\t"name": "corpus-app",\r\n\t"dependencies": {\r\n\t\t"debug": "^4.4.3"\r\n\t}\r\n}\r\n',
    },
    {
      what: "uninstall",
      npm: ["uninstall", "debug"],
      cairn: (t) => removeDependency(t, "debug"),
    },
    {
      what: "uninstall the last dev dependency removes the field",
      npm: ["uninstall", "react"],
      cairn: (t) => removeDependency(t, "react"),
    },
  ];
  for (const [i, c] of cases.entries())
    test(`as npm does: ${c.what}`, async () => {
      const text = c.text ?? PACKAGE_JSON;
      assert.equal(c.cairn(text), await npmEdit(`edit-${i}`, c.npm, text));
    });

  test("keeps tabs and CRLF line endings, and compact files compact", () => {
    const tabbed = '{\r\n\t"name": "x",\r\n\t"dependencies": {\r\n\t\t"b": "1"\r\n\t}\r\n}\r\n';
    assert.equal(
      addDependency(tabbed, "a", "^2.0.0"),
      '{\r\n\t"name": "x",\r\n\t"dependencies": {\r\n\t\t"a": "^2.0.0",\r\n\t\t"b": "1"\r\n\t}\r\n}\r\n',
    );
    assert.equal(
      addDependency('{"name":"x"}', "a", "1.0.0"),
      '{"name":"x","dependencies":{"a":"1.0.0"}}',
    );
    assert.equal(
      addDependency("{}", "a", "1.0.0"),
      '{\n  "dependencies": {\n    "a": "1.0.0"\n  }\n}\n',
    );
  });

  test("refuses a package.json that is not JSON, and names that are not names", () => {
    assert.throws(() => addDependency("{", "a", "1.0.0"), InstallError);
    assert.throws(() => removeDependency("[]", "a"), InstallError);
    assert.throws(() => addDependency("{}", "__proto__", "1.0.0"), InstallError);
  });
});
