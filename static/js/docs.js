// /docs: the reference is rendered on the server; this only narrows it. Typing in the filter keeps the endpoints
// whose method, path, summary or fields contain every word typed (and their entries in the contents); "/" focuses
// the filter, Escape clears it. The filter's text is kept in the address (?q=), so a link shows the same list.
const input = document.getElementById("docs-filter");
const count = document.getElementById("docs-count");
const articles = [...document.querySelectorAll("article.endpoint")];
const entries = new Map([...document.querySelectorAll(".toc a")].map((a) => [a.getAttribute("href").slice(1), a.parentElement]));
const texts = new Map(articles.map((a) => [a, a.textContent.toLowerCase()]));

function apply() {
  const words = input.value.toLowerCase().split(/\s+/).filter(Boolean);
  let shown = 0;
  for (const article of articles) {
    const keep = words.every((w) => texts.get(article).includes(w));
    article.hidden = !keep;
    const entry = entries.get(article.id);
    if (entry) entry.hidden = !keep;
    shown += keep;
  }
  count.textContent = words.length ? `${shown} of ${articles.length} endpoints` : `${articles.length} endpoints`;
  const url = new URL(window.location.href);
  if (words.length) url.searchParams.set("q", input.value); else url.searchParams.delete("q");
  window.history.replaceState(null, "", url);
}

input.value = new URLSearchParams(window.location.search).get("q") || "";
input.addEventListener("input", apply);
input.addEventListener("keydown", (e) => { if (e.key === "Escape") { input.value = ""; apply(); } });
document.addEventListener("keydown", (e) => {
  if (e.key === "/" && document.activeElement !== input && !e.ctrlKey && !e.metaKey && !e.altKey) {
    e.preventDefault();
    input.focus();
  }
});
apply();
