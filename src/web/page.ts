/**
 * The contract between the router and the pages: a page handler gets the
 * request's context and returns what to send. Handlers read through the
 * WebSource and render with Layout; they never touch the reply.
 */
import type { Children } from "./html.ts";
import type { SiteInfo } from "./layout.ts";
import type { WebSource } from "./source.ts";

export interface PageContext {
  readonly source: WebSource;
  readonly site: SiteInfo;
  /** `scheme://host` as the browser asked for it: install commands name it. */
  readonly base: string;
  /** The query string's parameters (the last of each). */
  readonly query: Readonly<Record<string, string | undefined>>;
}

export type WebResult =
  /** An HTML page in the site's frame. */
  | {
      readonly kind: "page";
      readonly title: string;
      readonly body: Children;
      readonly status?: number;
      readonly description?: string;
      /** Text for the header's search box. */
      readonly query?: string;
      /** Scripts beyond the site's own, by asset name. */
      readonly scripts?: readonly string[];
    }
  /** Bytes as they are (a raw file): never rendered by the browser as a page of this site. */
  | {
      readonly kind: "raw";
      readonly body: Uint8Array;
      /** A type for showing in the browser (text/plain for text); octet-stream otherwise. */
      readonly type: string;
      /** Offered as the download's name. */
      readonly filename: string;
      /** Content-addressed: cacheable forever. */
      readonly immutable?: boolean;
    }
  | { readonly kind: "json"; readonly body: unknown }
  | { readonly kind: "redirect"; readonly location: string };

export type PageHandler<P = void> = (ctx: PageContext, params: P) => Promise<WebResult>;
