"""AssetTable.imports: a module's static import graph, read from its import statements, for modulepreload."""
from __future__ import annotations

from convscope.assets import AssetTable


def write(root, name, text):
    path = root / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")


def test_the_graph_follows_every_static_form_and_leaves_dynamic_imports(tmp_path):
    write(tmp_path, "js/views/page.js", 'import { a } from "../a.js";\nimport {\n  b,\n  c,\n} from "./b.js";\n'
          'import "../side.js";\nexport { d } from "../d.js";\nconst lazy = () => import("../lazy.js");\n'
          '// import { x } from "../commented.js": a comment, not an import\n')
    write(tmp_path, "js/a.js", 'import { d } from "./d.js";\nexport const a = 1;\n')
    write(tmp_path, "js/views/b.js", "import { a } from '../a.js';\nexport const b = 2, c = 3;\n")
    write(tmp_path, "js/side.js", "window.side = 1;\n")
    write(tmp_path, "js/d.js", 'import { a } from "./a.js";\nexport const d = 4;\n')  # a cycle
    write(tmp_path, "js/lazy.js", "export const lazy = 5;\n")
    assets = AssetTable(tmp_path)
    assert set(assets.imports("js/views/page.js")) == {"js/a.js", "js/views/b.js", "js/side.js", "js/d.js"}
    html = str(assets.module_script("js/views/page.js"))
    assert html.count('rel="modulepreload"') == 4 and '<script type="module" src="/static/js/views/page.js?v=' in html
    assert "lazy" not in html


def test_every_page_module_of_the_app_resolves():
    assets = AssetTable()
    for entry in ("js/index.js", "js/lab/main.js", "js/docs.js", "js/views/conv.js", "js/views/receptive.js"):
        for dep in assets.imports(entry):
            assert (assets.static_dir / dep).is_file(), (entry, dep)
