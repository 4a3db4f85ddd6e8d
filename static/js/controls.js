// Form helpers: the API's error sentence next to the control it is about, never a silent clamp.

/** Remove every error shown by showError under root. */
export function clearErrors(root) {
  for (const el of root.querySelectorAll(".field-error")) el.remove();
  for (const el of root.querySelectorAll("[aria-invalid]")) {
    el.removeAttribute("aria-invalid");
    el.removeAttribute("aria-describedby");
  }
  const box = document.getElementById("view-error");
  if (box) { box.hidden = true; box.textContent = ""; }
}

/**
 * Show err.message beside the control named by the error's loc (mapped through `names`, e.g. {weight: "kh"}),
 * or in #view-error when no control matches. Returns the control's name, if any.
 */
export function showError(root, err, names = {}) {
  clearErrors(root);
  const loc = err.errors?.[0]?.loc?.[0];
  const name = names[loc] ?? loc;
  const control = name ? root.querySelector(`[name="${CSS.escape(String(name))}"]`) : null;
  if (control) {
    const note = document.createElement("span");
    note.className = "field-error";
    note.id = `error-${control.name}`;
    note.setAttribute("role", "alert");
    note.textContent = err.message;
    (control.closest("label") || control).after(note);
    control.setAttribute("aria-invalid", "true");
    control.setAttribute("aria-describedby", note.id);
    return control.name;
  }
  const box = document.getElementById("view-error");
  if (box) { box.textContent = err.message; box.hidden = false; }
  return null;
}

/** Debounce: call fn once, `ms` after the last of a burst of calls. */
export function debounce(fn, ms = 150) {
  let timer;
  return (...args) => {
    clearTimeout(timer);
    timer = setTimeout(() => fn(...args), ms);
  };
}

/** Announce a sentence to screen readers (and show it) in the view's status line. */
export function announce(text) {
  const status = document.getElementById("view-status");
  if (status && status.textContent !== text) status.textContent = text;
}
