/**
 * A few small packages for the package page's tests: readmes (in the
 * manifest and as a file), dependencies of every kind and an alias,
 * dist-tags, a deprecation, an unpublished version and package, a scoped package, and
 * a readme full of attacks.
 */
import type { TestOrigin } from "./origin.ts";

/** Payloads that would set `window.pwned` or call alert if anything of them ran. */
export const HOSTILE_README = `# Hostile readme

<script>window.pwned = "script"; alert("script")</script>

[plain js](javascript:window.pwned='md-link')
<a id="mixed" href="JaVaScRiPt:window.pwned='mixed';alert(1)">mixed case</a>
<a id="entity" href="&#106;avascript:window.pwned='entity'">entity encoded</a>
<a id="tabbed" href="java&#9;script:window.pwned='tab'">tabbed</a>
<a id="vb" href="vbscript:msgbox(1)">vbscript</a>
<a id="clicky" href="#x" onclick="window.pwned='onclick'">click me</a>
<img src="nope.png" onerror="window.pwned='onerror'">
<body onload="window.pwned='onload'">
<iframe src="javascript:parent.pwned='iframe'"></iframe>
<svg><script>window.pwned='svg'</script><a xlink:href="javascript:window.pwned='svg-link'"><text>svg link</text></a></svg>
<style>body { display: none }</style>
<form action="javascript:window.pwned='form'"><input type="text" name="q"><button>send</button></form>
<meta http-equiv="refresh" content="0;url=javascript:window.pwned='meta'">
<base href="https://attacker.example/">
<object data="javascript:window.pwned='object'"></object><embed src="javascript:window.pwned='embed'">
<a id="data" href="data:text/html,<script>alert(1)</script>">data link</a>

Still here.
`;

export const SCOPED_README = `# @web/lib

A library with **every** kind of dependency.

| option | default |
| ------ | ------- |
| fast   | ~~no~~ yes |

- [x] tables
- [ ] world peace

\`\`\`js
export const answer = 42;
\`\`\`

See [the guide](docs/guide.md) and https://example.com/docs.

![logo](./logo.png)
`;

export async function publishWebPackages(origin: TestOrigin): Promise<void> {
  await origin.publish("web-dep", "1.0.0", { description: "a dependency", license: "MIT" });
  await origin.publish("web-dep", "1.1.0", { description: "a dependency", license: "MIT" });
  await origin.publish("web-dep", "2.0.0-beta.1", { description: "a dependency" });
  await origin.registry.setDistTag("alice", "npm", "web-dep", "latest", "1.1.0");
  await origin.registry.setDistTag("alice", "npm", "web-dep", "next", "2.0.0-beta.1");
  await origin.registry.change("alice", "npm", "web-dep", [
    { kind: "deprecate", version: "1.0.0", message: "use 1.1.0: 1.0.0 leaks memory" },
  ]);
  await origin.publish("web-other", "3.0.0", {
    description: "another one",
    dependencies: { "web-dep": "^1.0.0" },
  });
  await origin.publish(
    "@web/lib",
    "1.0.0",
    {
      description: "A library with every kind of dependency",
      keywords: ["web", "fixture"],
      license: "MIT",
      readme: SCOPED_README,
      repository: { type: "git", url: "git+https://github.com/example/lib.git" },
      homepage: "https://example.com/lib",
      bugs: { url: "javascript:alert(1)" },
      dependencies: { "web-dep": "^1.0.0", "other-alias": "npm:web-other@^3.0.0" },
      devDependencies: { "web-dev-only": "^9.0.0" },
      peerDependencies: { "web-peer": "^2.0.0", "web-peer-opt": "*" },
      peerDependenciesMeta: { "web-peer-opt": { optional: true } },
      optionalDependencies: { "web-optional": "~1.2.3" },
      bundleDependencies: ["web-dep"],
    },
    [
      { name: "package/index.js", data: "export const answer = 42;\n" },
      { name: "package/docs/guide.md", data: "# Guide\n" },
    ],
  );
  await origin.publish("web-gone", "1.0.0", { description: "half gone" });
  await origin.publish("web-gone", "1.1.0", { description: "half gone" });
  await origin.registry.change("alice", "npm", "web-gone", [
    { kind: "unpublish", version: "1.1.0" },
  ]);
  await origin.publish("web-withdrawn", "1.0.0", { description: "all gone" });
  await origin.registry.unpublishPackage("alice", "npm", "web-withdrawn");
  await origin.publish("web-file-readme", "0.1.0", { description: "readme in a file" }, [
    { name: "package/Readme.markdown", data: "# From the file\n\nRead from *the tarball*.\n" },
  ]);
  await origin.publish("web-hostile", "1.0.0", {
    description: "a readme that attacks",
    readme: HOSTILE_README,
  });
}
