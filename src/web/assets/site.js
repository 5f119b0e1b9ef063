// The site script: suggestions as you type in the header's search box (the
// WAI-ARIA combobox pattern, fed by search.json), and arrow keys through the
// search page's results. Without it the box is a plain GET form.
const DEBOUNCE_MS = 120;
const SUGGESTIONS = 8;

const box = document.getElementById("q");
if (box instanceof HTMLInputElement && box.dataset.suggest) suggest(box, box.dataset.suggest);
resultKeys();

/** The links of the search page's results, in order. */
function resultLinks() {
  return Array.from(document.querySelectorAll("#results a.result-name"));
}

function suggest(input, endpoint) {
  const list = document.createElement("ul");
  list.id = "q-suggestions";
  list.className = "suggestions";
  list.setAttribute("role", "listbox");
  list.setAttribute("aria-label", "Suggested packages");
  list.hidden = true;
  const status = document.createElement("p");
  status.className = "visually-hidden";
  status.setAttribute("role", "status");
  input.after(list, status);
  input.setAttribute("role", "combobox");
  input.setAttribute("aria-autocomplete", "list");
  input.setAttribute("aria-controls", list.id);
  input.setAttribute("aria-expanded", "false");

  let options = [];
  let active = -1;
  let timer;
  let inFlight;

  const open = (yes) => {
    list.hidden = !yes;
    input.setAttribute("aria-expanded", String(yes));
    if (!yes) highlight(-1);
  };
  const highlight = (i) => {
    active = i;
    for (const [j, li] of options.entries()) li.setAttribute("aria-selected", String(j === i));
    if (i < 0) input.removeAttribute("aria-activedescendant");
    else {
      input.setAttribute("aria-activedescendant", options[i].id);
      options[i].scrollIntoView({ block: "nearest" });
    }
  };
  const go = (li) => {
    window.location.assign(li.dataset.url);
  };
  const show = (hits, text = "") => {
    // Which text the list answers: the current one once the last answer is in.
    list.dataset.query = text;
    list.replaceChildren();
    options = hits.map((hit, i) => {
      const li = document.createElement("li");
      li.id = `q-option-${i}`;
      li.setAttribute("role", "option");
      li.setAttribute("aria-selected", "false");
      li.dataset.url = hit.url;
      const name = document.createElement("span");
      name.className = "suggestion-name";
      name.textContent = hit.name;
      const version = document.createElement("span");
      version.className = "suggestion-version";
      version.textContent = hit.version;
      li.append(name, " ", version);
      if (hit.description) {
        const description = document.createElement("span");
        description.className = "suggestion-description";
        description.textContent = hit.description;
        li.append(description);
      }
      // Keep the focus in the box, so the click lands on the option.
      li.addEventListener("mousedown", (e) => e.preventDefault());
      li.addEventListener("click", () => go(li));
      return li;
    });
    list.append(...options);
    active = -1;
    input.removeAttribute("aria-activedescendant");
    open(options.length > 0);
    status.textContent =
      options.length === 0 ? "" : `${options.length} suggestions, arrow down to choose`;
  };
  const ask = async (text) => {
    inFlight?.abort();
    if (text.trim() === "") {
      inFlight = undefined;
      show([]);
      return;
    }
    const controller = new AbortController();
    inFlight = controller;
    try {
      const url = `${endpoint}?q=${encodeURIComponent(text)}&size=${SUGGESTIONS}`;
      const res = await fetch(url, { signal: controller.signal });
      if (!res.ok) return show([]);
      const body = await res.json();
      // A stale answer (the text changed meanwhile) is dropped.
      if (controller === inFlight && input.value === text) show(body.hits ?? [], text);
    } catch (err) {
      if (err?.name !== "AbortError") show([]);
    }
  };

  input.addEventListener("input", () => {
    clearTimeout(timer);
    timer = setTimeout(() => ask(input.value), DEBOUNCE_MS);
  });
  input.addEventListener("keydown", (e) => {
    const expanded = !list.hidden && options.length > 0;
    switch (e.key) {
      case "ArrowDown":
        if (expanded) highlight(active + 1 < options.length ? active + 1 : 0);
        else if (options.length > 0) open(true);
        else {
          // On the search page, down from the box goes into the results.
          const first = resultLinks()[0];
          if (!first) return;
          first.focus();
        }
        break;
      case "ArrowUp":
        if (!expanded) return;
        highlight(active > 0 ? active - 1 : options.length - 1);
        break;
      case "Enter":
        if (!expanded || active < 0) return;
        go(options[active]);
        break;
      case "Escape":
        if (!expanded) return;
        open(false);
        break;
      default:
        return;
    }
    e.preventDefault();
  });
  input.addEventListener("blur", () => open(false));
}

function resultKeys() {
  const results = document.getElementById("results");
  if (!results) return;
  results.addEventListener("keydown", (e) => {
    if (e.key !== "ArrowDown" && e.key !== "ArrowUp") return;
    const links = resultLinks();
    const at = links.indexOf(document.activeElement);
    if (at < 0) return;
    e.preventDefault();
    if (e.key === "ArrowDown") links[Math.min(at + 1, links.length - 1)].focus();
    else if (at > 0) links[at - 1].focus();
    else document.getElementById("q")?.focus();
  });
}
