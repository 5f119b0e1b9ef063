/** Prepared statements, one per SQL text: preparing costs more than most of our queries. */
import type { DatabaseSync, StatementSync } from "node:sqlite";

export function statementCache(db: DatabaseSync): (sql: string) => StatementSync {
  const statements = new Map<string, StatementSync>();
  return (sql) => {
    let statement = statements.get(sql);
    if (!statement) {
      statement = db.prepare(sql);
      statements.set(sql, statement);
    }
    return statement;
  };
}
