/**
 * Which dist-tag names a registry accepts. A tag is a short label a client
 * puts after `@` (`npm install pkg@next`) and a key of a JSON object in
 * every packument and package document, so it is kept plain: 1 to 128 of
 * `A-Z a-z 0-9 . _ -`, starting with a letter or digit (no `..`, no
 * `__proto__`), not the name of an Object.prototype member (`constructor`),
 * and not a semver range (npm would read `pkg@1` as a range, never a tag).
 */
import semver from "semver";

export const MAX_DIST_TAG_LENGTH = 128;

const TAG = /^[A-Za-z0-9][A-Za-z0-9._-]*$/;

/** Why `tag` is not an acceptable dist-tag name, or undefined if it is. */
export function distTagProblem(tag: string): string | undefined {
  if (tag.length > MAX_DIST_TAG_LENGTH)
    return `a dist-tag has at most ${MAX_DIST_TAG_LENGTH} characters`;
  if (!TAG.test(tag))
    return 'a dist-tag is letters, digits, ".", "_" and "-", starting with a letter or digit';
  if (Object.hasOwn(Object.prototype, tag)) return `${tag} is reserved`;
  if (semver.validRange(tag) !== null) return "a dist-tag must not be a semver range";
  return undefined;
}
