/** A table of field differences between two manifests, install-relevant rows marked. */
import { html, type VNode } from "../html.ts";
import { type FieldDifference, isInstallScript } from "../manifest-fields.ts";

/** A value longer than this is cut in the table; the whole manifest is on its own page. */
const VALUE_CHARS = 400;

function Value(props: { readonly value: unknown }): VNode {
  if (props.value === undefined) return html`<span class="muted">absent</span>`;
  const text = JSON.stringify(props.value);
  return html`<code>${text.length > VALUE_CHARS ? `${text.slice(0, VALUE_CHARS)}…` : text}</code>`;
}

export function FieldTable(props: {
  readonly differences: readonly FieldDifference[];
  readonly caption: string;
  readonly before: string;
  readonly after: string;
}): VNode {
  return html`<table class="fields">
    <caption>${props.caption}</caption>
    <thead>
      <tr><th scope="col">Field</th><th scope="col">${props.before}</th><th scope="col">${props.after}</th></tr>
    </thead>
    <tbody>
      ${props.differences.map(
        (d) => html`<tr class=${d.install ? "install" : undefined}>
          <th scope="row">
            <code>${d.field}${d.key === undefined ? "" : ` › ${d.key}`}</code>
            ${isInstallScript(d) ? html` <span class="badge bad">runs on install</span>` : null}
          </th>
          <td class="before"><${Value} value=${d.before} /></td>
          <td class="after"><${Value} value=${d.after} /></td>
        </tr>`,
      )}
    </tbody>
  </table>`;
}
