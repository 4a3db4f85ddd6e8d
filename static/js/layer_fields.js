// One parameter of a layer as a form control, drawn from the server's table (GET /api/v1/layers: name, type,
// default, range or choices, meaning): used by /receptive-field's network editor and the image lab's cards.

/** "meaning; from lo to hi; default d": a parameter's help, from the table. */
export function hintOf(p) {
  return `${p.meaning}${p.range ? `; from ${p.range[0]} to ${p.range[1]}` : ""}` +
    `${p.default !== null && p.default !== undefined ? `; default ${JSON.stringify(p.default)}` : ""}`;
}

export function box(value, aria, size) {
  const el = document.createElement("input");
  el.type = "text";
  el.size = size;
  el.value = value;
  el.dataset.nourl = "1";
  el.spellcheck = false;
  el.setAttribute("aria-label", aria);
  return el;
}

export const show = (v) => (Array.isArray(v) ? v.join(", ") : typeof v === "string" ? v : JSON.stringify(v));

/** "3" -> 3, "0.5" -> 0.5, "3, 1" or "[3, 1]" -> [3, 1], "true" -> true, "" -> the default (undefined); a JSON
 * list or object as JSON; else as typed, for the API to explain. */
export function parse(value) {
  const t = value.trim().replace(/^\[|\]$/g, "").trim();
  if (t === "") return undefined;
  const num = /^-?\d+(\.\d+)?(e-?\d+)?$/i;
  if (num.test(t)) return Number(t);
  const parts = t.split(/\s*[,×x]\s*/);
  if (parts.length === 2 && parts.every((s) => num.test(s))) return parts.map(Number);
  if (parts.length > 2 && parts.every((s) => num.test(s))) return parts.map(Number);
  if (t === "true" || t === "false") return t === "true";
  if (t === "null") return null;
  return value.trim();
}

/** A labelled control for parameter p of a layer whose current value is `value` (undefined: not given).
 * onValue(v) gets the new value: undefined for "not given" (an empty box, the select's "—"), the checkbox's state
 * for a bool. aria: the control's accessible name, which starts with the visible label p.name. */
export function paramControl(p, value, aria, onValue) {
  const label = document.createElement("label");
  label.className = "param";
  label.title = hintOf(p);
  let control;
  if (p.choices) {
    control = document.createElement("select");
    control.dataset.nourl = "1";
    if (p.default === null || p.default === undefined) control.append(new Option("—", ""));
    const current = String(value ?? p.default ?? "");
    if (current !== "" && !p.choices.map(String).includes(current)) control.append(new Option(current, current, true, true)); // for the server to explain
    for (const c of p.choices) control.append(new Option(String(c), String(c), false, current === String(c)));
    control.addEventListener("change", () => {
      const c = p.choices.find((x) => String(x) === control.value);
      onValue(control.value === "" ? undefined : c === undefined ? control.value : c);
    });
  } else if (p.type === "bool") {
    control = document.createElement("input");
    control.type = "checkbox";
    control.dataset.nourl = "1";
    control.checked = Boolean(value ?? p.default);
    control.addEventListener("change", () => onValue(control.checked));
  } else {
    control = box(value === undefined ? "" : show(value), aria, 4);
    control.placeholder = p.default === null || p.default === undefined ? "" : show(p.default);
    control.addEventListener("change", () => onValue(parse(control.value)));
  }
  control.setAttribute("aria-label", aria);
  label.append(p.name, control);
  return label;
}

/** What a layer reads: a select of the layer before (value "", the default), or entry j of `names` (0: "input").
 * A reference not among them (typed in a link) stays shown, for the server to explain. onPick(j | undefined). */
export function inputChoice({ names, current, before, aria, onPick }) {
  const sel = document.createElement("select");
  sel.dataset.nourl = "1";
  sel.setAttribute("aria-label", aria);
  sel.append(new Option(before, ""));
  names.forEach((nm, j) => sel.append(new Option(nm, String(j), false, current === nm)));
  if (current !== undefined && !names.includes(current)) sel.append(new Option(String(current), "?", true, true));
  sel.addEventListener("change", () => {
    if (sel.value !== "?") onPick(sel.value === "" ? undefined : Number(sel.value));
  });
  return sel;
}

/** A merge's inputs: one checkbox per entry of `names`; onPick(the ticked entries' indices, in order). */
export function mergeInputs({ names, chosen, ariaOf, onPick }) {
  const picked = new Set(chosen);
  const wrap = document.createElement("span");
  wrap.className = "merge-inputs";
  names.forEach((nm, j) => {
    const label = document.createElement("label");
    const tick = document.createElement("input");
    tick.type = "checkbox";
    tick.dataset.nourl = "1";
    tick.checked = picked.has(nm);
    tick.setAttribute("aria-label", ariaOf(nm));
    tick.addEventListener("change", () => {  // the set follows each tick: a kept card ticks again
      if (tick.checked) picked.add(nm); else picked.delete(nm);
      onPick(names.map((m, k) => [m, k]).filter(([m]) => picked.has(m)).map(([, k]) => k));
    });
    label.append(tick, nm);
    wrap.append(label);
  });
  return wrap;
}
