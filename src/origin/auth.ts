/**
 * Users and access tokens, kept in their own SQLite database: secrets are
 * not registry state, never enter the log, and are not rebuilt from it.
 *
 * Passwords are hashed with scrypt (N=2^15, r=8, p=1, 16-byte salt) in the
 * PHC-like form `scrypt$15$8$1$<salt b64>$<hash b64>`. Tokens are 32 random
 * bytes shown once (`cairn_<base64url>`); only their SHA-256 is stored, so a
 * leaked database does not leak usable tokens.
 */
import { createHash, randomBytes, randomUUID, timingSafeEqual } from "node:crypto";
import { DatabaseSync } from "node:sqlite";
import { CodedError } from "../util/coded-error.ts";
import { passwordHasher } from "./password-hasher.ts";

const scryptAsync = passwordHasher.scrypt.bind(passwordHasher);

const SCHEMA = `
CREATE TABLE IF NOT EXISTS users (
  name TEXT PRIMARY KEY,
  password TEXT NOT NULL,
  email TEXT,
  created TEXT NOT NULL
) STRICT;
CREATE TABLE IF NOT EXISTS tokens (
  token_hash TEXT PRIMARY KEY,
  prefix TEXT NOT NULL,
  key TEXT NOT NULL UNIQUE,
  user TEXT NOT NULL REFERENCES users (name),
  readonly INTEGER NOT NULL,
  created TEXT NOT NULL
) STRICT;
`;

const LOG_N = 15;
const R = 8;
const P = 1;
const KEY_LENGTH = 32;
const MAX_PASSWORD_LENGTH = 1024;
/** "cairn_" and four characters: enough to recognise a token, far too little to guess it. */
const TOKEN_PREFIX_LENGTH = 10;

export type AuthErrorCode =
  | "invalid-username"
  | "invalid-password"
  | "user-exists"
  | "bad-credentials";

export class AuthError extends CodedError<AuthErrorCode> {
  override name = "AuthError";
}

export interface TokenInfo {
  readonly key: string;
  /** The token's first characters, as `npm token list` shows them. */
  readonly prefix: string;
  readonly user: string;
  readonly readonly: boolean;
  readonly created: string;
}

/** npm's rules for user names: lowercase URL-safe characters, at most 214. */
export function checkUsername(name: string): void {
  if (!/^[a-z0-9][a-z0-9._-]{0,213}$/.test(name)) {
    throw new AuthError(
      "invalid-username",
      `invalid user name ${JSON.stringify(name)}: use lowercase letters, digits, ".", "_" and "-"`,
    );
  }
}

async function hashPassword(password: string): Promise<string> {
  const salt = randomBytes(16);
  const hash = await scryptAsync(password, salt, KEY_LENGTH, {
    N: 2 ** LOG_N,
    r: R,
    p: P,
    maxmem: 256 * 2 ** LOG_N * R,
  });
  return `scrypt$${LOG_N}$${R}$${P}$${salt.toString("base64")}$${hash.toString("base64")}`;
}

async function checkPassword(password: string, stored: string): Promise<boolean> {
  const [scheme, logN, r, p, salt, hash] = stored.split("$");
  if (scheme !== "scrypt") return false;
  const expected = Buffer.from(hash, "base64");
  const options = {
    N: 2 ** Number(logN),
    r: Number(r),
    p: Number(p),
    maxmem: 256 * 2 ** Number(logN) * Number(r),
  };
  const actual = await scryptAsync(password, Buffer.from(salt, "base64"), expected.length, options);
  return timingSafeEqual(actual, expected);
}

export type StoredToken = TokenInfo & { readonly tokenHash: string };

const TOKEN_COLUMNS = "token_hash, prefix, key, user, readonly, created";

interface TokenRow {
  token_hash: string;
  prefix: string;
  key: string;
  user: string;
  readonly: number;
  created: string;
}

function storedToken(row: TokenRow): StoredToken {
  return {
    key: row.key,
    prefix: row.prefix,
    user: row.user,
    readonly: row.readonly === 1,
    created: row.created,
    tokenHash: row.token_hash,
  };
}

function tokenHash(token: string): string {
  return createHash("sha256").update(token).digest("hex");
}

export class AuthStore {
  readonly #db: DatabaseSync;

  private constructor(db: DatabaseSync) {
    this.#db = db;
  }

  static open(path: string): AuthStore {
    const db = new DatabaseSync(path);
    db.exec("PRAGMA journal_mode = WAL; PRAGMA foreign_keys = ON;");
    db.exec(SCHEMA);
    return new AuthStore(db);
  }

  close(): void {
    this.#db.close();
  }

  hasUser(name: string): boolean {
    return this.#db.prepare("SELECT 1 FROM users WHERE name = ?").get(name) !== undefined;
  }

  /** The email given at sign-up, or undefined for a user who gave none (or no such user). */
  email(name: string): string | undefined {
    const row = this.#db.prepare("SELECT email FROM users WHERE name = ?").get(name) as
      | { email: string | null }
      | undefined;
    return row?.email ?? undefined;
  }

  async createUser(name: string, password: string, email?: string): Promise<void> {
    checkUsername(name);
    if (password.length < 1 || password.length > MAX_PASSWORD_LENGTH) {
      throw new AuthError(
        "invalid-password",
        `a password must be 1 to ${MAX_PASSWORD_LENGTH} characters`,
      );
    }
    const hashed = await hashPassword(password);
    const result = this.#db
      .prepare("INSERT OR IGNORE INTO users (name, password, email, created) VALUES (?, ?, ?, ?)")
      .run(name, hashed, email ?? null, new Date().toISOString());
    if (result.changes === 0) throw new AuthError("user-exists", `user ${name} already exists`);
  }

  /** Throws "bad-credentials" unless `password` is the user's; the same error for an unknown user. */
  async checkCredentials(name: string, password: string): Promise<void> {
    const row = this.#db.prepare("SELECT password FROM users WHERE name = ?").get(name) as
      | { password: string }
      | undefined;
    // No password longer than sign-up allows can be right (comparing a prefix would accept it).
    if (password.length > MAX_PASSWORD_LENGTH)
      throw new AuthError("bad-credentials", "wrong user name or password");
    // Hash anyway for an unknown user, so timing does not tell which names exist.
    const stored = row?.password ?? (await hashPassword("unknown user"));
    if (!(await checkPassword(password, stored)) || !row) {
      throw new AuthError("bad-credentials", "wrong user name or password");
    }
  }

  /** Creates a token; the returned `token` is the only time it is seen in clear. */
  createToken(user: string, options: { readonly?: boolean } = {}): { token: string } & TokenInfo {
    const token = `cairn_${randomBytes(32).toString("base64url")}`;
    const info: TokenInfo = {
      key: randomUUID(),
      prefix: token.slice(0, TOKEN_PREFIX_LENGTH),
      user,
      readonly: options.readonly ?? false,
      created: new Date().toISOString(),
    };
    this.#db
      .prepare(`INSERT INTO tokens (${TOKEN_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?)`)
      .run(tokenHash(token), info.prefix, info.key, user, info.readonly ? 1 : 0, info.created);
    return { token, ...info };
  }

  /** The token's owner and rights, or undefined for an unknown or revoked token. */
  lookupToken(token: string): StoredToken | undefined {
    const row = this.#db
      .prepare(`SELECT ${TOKEN_COLUMNS} FROM tokens WHERE token_hash = ?`)
      .get(tokenHash(token));
    return row ? storedToken(row as unknown as TokenRow) : undefined;
  }

  listTokens(user: string): StoredToken[] {
    const rows = this.#db
      .prepare(`SELECT ${TOKEN_COLUMNS} FROM tokens WHERE user = ? ORDER BY created, rowid`)
      .all(user);
    return (rows as unknown as TokenRow[]).map(storedToken);
  }

  /**
   * Revokes one of `user`'s tokens, named by its key, by the token itself, or
   * by a prefix of its hash (as `npm token list` shows it). Returns false if
   * none matched.
   */
  revokeToken(user: string, id: string): boolean {
    const hashed = tokenHash(id);
    const matches = this.listTokens(user).filter(
      (t) =>
        t.key === id ||
        t.tokenHash === hashed ||
        (/^[0-9a-f]{6,64}$/.test(id) && t.tokenHash.startsWith(id)),
    );
    // An ambiguous prefix revokes nothing rather than the wrong token.
    if (matches.length !== 1) return false;
    this.#db.prepare("DELETE FROM tokens WHERE token_hash = ?").run(matches[0].tokenHash);
    return true;
  }
}
