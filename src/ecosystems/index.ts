/** Every ecosystem this registry serves: what each layer above the core hands it. */

import { cargo } from "../cargo/rules/ecosystem.ts";
import { npm } from "../npm/rules/ecosystem.ts";
import type { Ecosystems } from "../registry/ecosystem.ts";

export const ECOSYSTEMS: Ecosystems = new Map([
  [npm.id, npm],
  [cargo.id, cargo],
]);
