// Every control's value lives in the query string, so a shared link reproduces the view exactly.
// Controls are named form elements; checkboxes are written 1/0. history.replaceState: no history spam.

function named(root) {
  return [...root.querySelectorAll("input[name], select[name], textarea[name]")].filter((el) => !el.dataset.nourl);
}

/** Set the controls under each root from the URL; returns the names the URL set. */
export function restore(roots, params = new URLSearchParams(window.location.search)) {
  const set = [];
  for (const el of roots.flatMap(named)) {
    if (!params.has(el.name)) continue;
    const value = params.get(el.name);
    if (el.type === "checkbox") el.checked = value === "1" || value === "true";
    else if (el.tagName === "SELECT" && ![...el.options].some((o) => o.value === value)) continue;
    else el.value = value;
    set.push(el.name);
  }
  return set;
}

export function values(root) {
  const out = {};
  for (const el of named(root)) out[el.name] = el.type === "checkbox" ? el.checked : el.value;
  return out;
}

/** Write the controls under each root into the URL (keeping other parameters). */
export function save(roots) {
  const params = new URLSearchParams(window.location.search);
  for (const el of roots.flatMap(named)) params.set(el.name, el.type === "checkbox" ? (el.checked ? "1" : "0") : el.value);
  const url = `${window.location.pathname}?${params}`;
  if (url !== `${window.location.pathname}${window.location.search}`) window.history.replaceState(null, "", url);
}

/** "2" -> 2, "2,1" -> [2, 1], "same" -> "same", "" -> fallback; anything else is sent as typed, so the API explains it. */
export function intOrPair(text, fallback) {
  const t = String(text ?? "").trim();
  if (t === "") return fallback;
  if (/^-?\d+$/.test(t)) return Number(t);
  if (/^-?\d+\s*[,×x]\s*-?\d+$/.test(t)) return t.split(/\s*[,×x]\s*/).map(Number);
  return t;
}
