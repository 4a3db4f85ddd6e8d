// Painting the page's own boxes and text into the export canvas where they sit on screen: backgrounds and
// borders (table rules, legend swatches, hatched pad swatches), the INPUT/OUTPUT badges (CSS ::before),
// SVG charts, and every word of text at the position the browser laid it out.

const SKIP = ".js-plotly-plot, canvas, script, style, button, select, input, textarea, .visually-hidden";

function visible(el) {
  if (!el.getClientRects().length) return false;
  const s = getComputedStyle(el);
  return s.visibility !== "hidden" && s.display !== "none" && Number(s.opacity) > 0;
}

const clear = (colour) => !colour || colour === "transparent" || /rgba\(.*,\s*0\)$/.test(colour);

function font(s) {
  return `${s.fontStyle} ${s.fontWeight} ${s.fontSize} ${s.fontFamily}`;
}

/** The colours of a repeating-linear-gradient (the pad swatches' hatching), in order. */
function gradientColours(image) {
  return [...image.matchAll(/(#[0-9a-f]{3,8}|rgba?\([^)]*\))/gi)].map((m) => m[1]);
}

function box(g, el, at) {
  const s = getComputedStyle(el);
  const [x, y, w, h] = at(el);
  if (w < 0.5 || h < 0.5) return;
  const radius = Math.min(parseFloat(s.borderTopLeftRadius) || 0, w / 2, h / 2);
  const path = () => { g.beginPath(); g.roundRect ? g.roundRect(x, y, w, h, radius) : g.rect(x, y, w, h); };
  if (!clear(s.backgroundColor)) {
    g.fillStyle = s.backgroundColor;
    path();
    g.fill();
  }
  if (s.backgroundImage.includes("gradient")) {
    const [light, dark] = gradientColours(s.backgroundImage);
    g.save();
    path();
    g.clip();
    g.fillStyle = light || "#eee";
    g.fillRect(x, y, w, h);
    g.strokeStyle = dark || "#999";
    g.lineWidth = 1;
    for (let d = -h; d < w + h; d += 4) { g.beginPath(); g.moveTo(x + d, y + h); g.lineTo(x + d + h, y); g.stroke(); }
    g.restore();
  }
  const sides = [["Top", x, y, x + w, y], ["Right", x + w, y, x + w, y + h], ["Bottom", x, y + h, x + w, y + h],
    ["Left", x, y, x, y + h]];
  const uniform = sides.every(([side]) => s[`border${side}Width`] === s.borderTopWidth
    && s[`border${side}Color`] === s.borderTopColor && s[`border${side}Style`] === s.borderTopStyle);
  const width = parseFloat(s.borderTopWidth) || 0;
  if (uniform && width > 0 && s.borderTopStyle !== "none" && !clear(s.borderTopColor)) {
    g.strokeStyle = s.borderTopColor;
    g.lineWidth = width;
    g.setLineDash(s.borderTopStyle === "dashed" ? [width * 2, width] : []);
    g.beginPath();
    g.roundRect ? g.roundRect(x + width / 2, y + width / 2, w - width, h - width, radius)
      : g.rect(x + width / 2, y + width / 2, w - width, h - width);
    g.stroke();
    g.setLineDash([]);
    return;
  }
  for (const [side, x0, y0, x1, y1] of sides) {
    const bw = parseFloat(s[`border${side}Width`]) || 0;
    if (!bw || s[`border${side}Style`] === "none" || clear(s[`border${side}Color`])) continue;
    g.strokeStyle = s[`border${side}Color`];
    g.lineWidth = bw;
    g.beginPath();
    g.moveTo(x0, y0);
    g.lineTo(x1, y1);
    g.stroke();
  }
}

/** A ::before badge (content "INPUT" on a coloured ground), drawn just before the element's first word. */
function badge(g, el, origin) {
  const s = getComputedStyle(el, "::before");
  const content = s.content && s.content !== "none" && s.content !== "normal" ? s.content.replace(/^"|"$/g, "") : "";
  if (!content || s.display === "none") return;
  const first = [...el.childNodes].find((n) => n.nodeType === Node.TEXT_NODE && n.textContent.trim());
  if (!first) return;
  const range = document.createRange();
  range.setStart(first, first.textContent.search(/\S/));
  range.setEnd(first, first.textContent.search(/\S/) + 1);
  const word = range.getBoundingClientRect();
  const left = el.getBoundingClientRect().left + (parseFloat(getComputedStyle(el).paddingLeft) || 0);
  const right = word.left - (parseFloat(s.marginRight) || 0);
  const size = parseFloat(s.fontSize);
  const h = size * 1.45;
  const x = left - origin.left;
  const y = word.top + (word.height - h) / 2 - origin.top;
  g.fillStyle = s.backgroundColor;
  g.beginPath();
  g.roundRect ? g.roundRect(x, y, right - left, h, parseFloat(s.borderTopLeftRadius) || 0) : g.rect(x, y, right - left, h);
  g.fill();
  g.fillStyle = s.color;
  g.font = font(s);
  g.textAlign = "center";
  g.textBaseline = "middle";
  g.fillText(content, x + (right - left) / 2, y + h / 2);
  g.textAlign = "start";
}

/** Each word of the text nodes under el, at the rectangle the browser laid it out in. */
function words(g, el, origin) {
  const walker = document.createTreeWalker(el, NodeFilter.SHOW_TEXT, {
    acceptNode: (n) => (n.parentElement.closest(SKIP) || n.parentElement.closest("svg") || !n.textContent.trim()
      ? NodeFilter.FILTER_REJECT : NodeFilter.FILTER_ACCEPT) });
  const range = document.createRange();
  g.textBaseline = "middle";
  for (let n = walker.nextNode(); n; n = walker.nextNode()) {
    const parent = n.parentElement;
    if (!visible(parent)) continue;
    const s = getComputedStyle(parent);
    g.font = font(s);
    g.fillStyle = s.color;
    for (const m of n.textContent.matchAll(/\S+/g)) {
      range.setStart(n, m.index);
      range.setEnd(n, m.index + m[0].length);
      const r = range.getBoundingClientRect();
      if (!r.width) continue;
      g.fillText(m[0], r.left - origin.left, r.top + r.height / 2 - origin.top);
    }
  }
}

function svgImage(svg) {
  const copy = svg.cloneNode(true);
  const r = svg.getBoundingClientRect();
  copy.setAttribute("xmlns", "http://www.w3.org/2000/svg");
  copy.setAttribute("width", r.width);
  copy.setAttribute("height", r.height);
  copy.setAttribute("font-family", getComputedStyle(svg).fontFamily);
  copy.setAttribute("font-size", getComputedStyle(svg).fontSize);
  const texts = svg.querySelectorAll("text");
  copy.querySelectorAll("text").forEach((t, i) => { // the page's CSS does not travel with the image
    const s = getComputedStyle(texts[i]);
    t.setAttribute("font-size", s.fontSize);
    t.setAttribute("font-family", s.fontFamily);
    if (!t.getAttribute("fill")) t.setAttribute("fill", s.fill);
  });
  return `data:image/svg+xml;charset=utf-8,${encodeURIComponent(new XMLSerializer().serializeToString(copy))}`;
}

/** Boxes first (under the drawings), then drawings are the caller's, then paintText for words on top. */
export function paintBoxes(g, root, at) {
  for (const el of root.querySelectorAll("*")) {
    if (el.closest(SKIP) || el.closest("svg") || !visible(el)) continue;
    box(g, el, at);
  }
}

export async function paintSvgs(g, root, at, loadImage) {
  for (const svg of root.querySelectorAll("svg")) {
    if (svg.closest(".js-plotly-plot") || svg.parentElement.closest("svg") || !visible(svg)) continue;
    const [x, y, w, h] = at(svg);
    try {
      g.drawImage(await loadImage(svgImage(svg)), x, y, w, h);
    } catch { /* an SVG the browser will not rasterise: its tables still carry the numbers */ }
  }
}

export function paintText(g, root) {
  const origin = root.getBoundingClientRect();
  for (const el of root.querySelectorAll(".panel-title")) if (visible(el)) badge(g, el, origin);
  words(g, root, origin);
}
