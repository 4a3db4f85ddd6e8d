// A model's layers grouped by their module paths, the way torchvision names them: a stage is the first part
// (layer1, features, down1), a block the first two (layer1.0, features.3). Top-level layers before the first
// stage are the "stem", those after the last the "head", others stand as a stage of their own. A stage of
// numbered layers without blocks (VGG's and AlexNet's features.N) is cut into one stage per pooling step.
// Each stage is a <details> (open); a stage of several blocks holds a <details> per block, only its first open.

const POOLS = new Set(["max_pool2d", "avg_pool2d"]);

/** layers: [{name, op}] in order (entry k + 1 is layers[k]). → [{id, title, blocks: [{id, entries}]}] */
export function stagesOf(layers) {
  const runs = [];
  layers.forEach((layer, k) => {
    const parts = String(layer.name || "").split(".");
    const top = parts.length > 1 ? parts[0] : null;
    const last = runs[runs.length - 1];
    if (last && last.top === top) last.items.push({ k, parts, op: layer.op });
    else runs.push({ top, items: [{ k, parts, op: layer.op }] });
  });
  const stages = [];
  runs.forEach((run, i) => {
    const entries = run.items.map((it) => it.k + 1);
    if (run.top === null) {
      const names = run.items.map((it) => it.parts.join("."));
      const id = i === 0 && runs.length > 1 ? "stem" : i === runs.length - 1 && runs.length > 1 ? "head"
        : names.length === 1 ? names[0] : `${names[0]} … ${names[names.length - 1]}`;
      stages.push({ id, blocks: [{ id, entries }] });
      return;
    }
    const flat = run.items.every((it) => it.parts.length === 2 && /^\d+$/.test(it.parts[1]));
    if (flat) {
      let chunk = [];
      const close = () => {
        if (!chunk.length) return;
        const id = `${run.top}.${chunk[0].parts[1]}–${chunk[chunk.length - 1].parts[1]}`;
        stages.push({ id, blocks: [{ id, entries: chunk.map((it) => it.k + 1) }] });
        chunk = [];
      };
      for (const it of run.items) {
        chunk.push(it);
        if (POOLS.has(it.op)) close();
      }
      close();
      if (stages.length && run.items.every((it) => !POOLS.has(it.op))) stages[stages.length - 1].id = run.top;
      return;
    }
    const blocks = [];
    if (run.items.every((it) => it.parts.length === 2)) {  // down1.conv1, down1.relu1, …: a stage without blocks
      stages.push({ id: run.top, blocks: [{ id: run.top, entries }] });
      return;
    }
    for (const it of run.items) {
      const id = it.parts.length > 2 ? it.parts.slice(0, 2).join(".") : it.parts.join(".");
      const block = blocks[blocks.length - 1];
      if (block && block.id === id) block.entries.push(it.k + 1);
      else blocks.push({ id, entries: [it.k + 1] });
    }
    stages.push({ id: run.top, blocks: blocks.length > 1 ? blocks : [{ id: run.top, entries }] });
  });
  for (const s of stages) for (const b of s.blocks) b.id = b.id || s.id;
  return stages;
}

function details(className, data, open, heading) {
  const d = document.createElement("details");
  d.className = className;
  Object.assign(d.dataset, data);
  d.open = open;
  const summary = document.createElement("summary");
  summary.textContent = heading;
  d.append(summary);
  return d;
}

/** The stages as nested <details> under root; → Map entry → the element its map section goes in. */
export function buildGroups(root, stages) {
  const parents = new Map();
  for (const stage of stages) {
    const n = stage.blocks.reduce((a, b) => a + b.entries.length, 0);
    const many = stage.blocks.length > 1;
    const words = many ? `${stage.blocks.length} blocks, ${n} layers` : `${n} layer${n === 1 ? "" : "s"}`;
    const s = details("lab-stage", { stage: stage.id }, true, `${stage.id} · ${words}`);
    stage.blocks.forEach((block, i) => {
      let body;
      if (many) {
        const m = block.entries.length;
        const b = details("lab-block", { block: block.id }, i === 0, `${block.id} · ${m} layer${m === 1 ? "" : "s"}`);
        body = document.createElement("div");
        body.className = "lab-group-row";
        b.append(body);
        s.append(b);
      } else {
        body = document.createElement("div");
        body.className = "lab-group-row";
        s.append(body);
      }
      for (const e of block.entries) parents.set(e, body);
    });
    root.append(s);
  }
  return parents;
}
