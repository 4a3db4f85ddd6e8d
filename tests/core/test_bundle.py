"""bundle.py: a page's module graph as one module. The bundle must do what the modules do: both are run by Node.js
(installed by scripts/setup for the accessibility tests), the modules by its own ES module loader, and their output
compared; forms the bundle does not translate leave the page on separate modules; every page of the app bundles."""
from __future__ import annotations

import shutil
import subprocess

import pytest
from fastapi.testclient import TestClient

from convscope.app import create_app
from convscope.assets import AssetTable, MemoryStatic, bundle_name
from convscope.bundle import Bundler
from convscope.settings import Settings

NODE = shutil.which("node")


@pytest.fixture(scope="module")
def app_client():
    with TestClient(create_app(Settings(device="cpu"))) as c:
        yield c


def write(root, name, text):
    path = root / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")


def node(path) -> str:
    assert NODE, "Node.js runs these checks: scripts/setup test installs it (with npm, for axe-core)"
    done = subprocess.run([NODE, str(path)], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    return done.stdout


GRAPH = {
    "js/views/page.js": (
        'import { a, inc as bump, Counter } from "../a.js";\n'
        'import * as b from "./b.js";\n'
        'import "../side.js";\n'
        'import {\n  shared,\n} from "../shared.js"; // a comment after an import\n'
        'const lazy = () => import("../lazy.js");\n'
        'globalThis.order.push("page");\n'
        'console.log("page", a, bump(1), bump(1), new Counter().n, b.b, b.twice(3), shared.count);\n'
        'console.log(globalThis.order.join(","), typeof lazy);\n'
        'await Promise.resolve();\n'  # the entry may wait at its top level
        'console.log("after await", exported);\n'
        'export function exported() {}\n'),
    "js/a.js": ('import { shared } from "./shared.js";\n'
                'globalThis.order.push("a");\n'
                'let calls = 0;\n'
                'export const a = "A";\n'
                'export function inc(n) { calls += 1; shared.count += 1; return n + calls; }\n'
                'export class Counter { constructor() { this.n = calls; } }\n'),
    "js/views/b.js": ('import { shared } from "../shared.js";\n'
                      "globalThis.order.push('b');\n"
                      "export const b = [1, 2].map((v) => v * shared.base).join(\",\");\n"
                      "export async function later() { return 1; }\n"
                      "export function twice(v) { return 2 * v; }\n"),
    "js/shared.js": 'globalThis.order = globalThis.order || [];\nglobalThis.order.push("shared");\n'
                    'export const shared = { base: 10, count: 0 };\n',
    "js/side.js": 'globalThis.order.push("side");\n',
    "js/lazy.js": "export const lazy = 5;\n",
}


def test_the_bundle_does_what_the_modules_do(tmp_path):
    for name, text in GRAPH.items():
        write(tmp_path, name, text)
    write(tmp_path, "package.json", '{"type": "module"}')  # .js files are ES modules to Node
    bundle = Bundler(tmp_path).bundle("js/views/page.js")
    assert bundle is not None
    (tmp_path / "js/views/page.bundle.js").write_bytes(bundle)
    modules = node(tmp_path / "js/views/page.js")
    assert modules.splitlines() == ["page A 2 3 2 10,20 6 2", "shared,a,b,side,page function", "after await [Function: exported]"]
    assert node(tmp_path / "js/views/page.bundle.js") == modules
    text = bundle.decode()
    assert text.count("// ---- ") == 5 and "lazy = 5" not in text  # the module fetched on demand stays out
    assert 'import("/static/js/lazy.js")' in text  # at its own URL: the bundle's is not the importing module's


@pytest.mark.parametrize("form", [
    pytest.param({"js/x.js": 'import { y } from "./y.js";\nexport const x = 1;\n',
                  "js/y.js": 'import { x } from "./x.js";\nexport const y = 2;\n'}, id="cycle"),
    pytest.param({"js/x.js": 'import y from "./y.js";\n', "js/y.js": "export default 1;\n"}, id="default"),
    pytest.param({"js/x.js": 'import { y } from "./y.js";\n', "js/y.js": "const y = 1;\nexport { y };\n"},
                 id="export-list"),
    pytest.param({"js/x.js": 'import { z } from "./y.js";\n', "js/y.js": "export const y = 1, z = 2;\n"},
                 id="two-declarators"),
    pytest.param({"js/x.js": 'import { w } from "./y.js";\n', "js/y.js": "export const y = 1;\n"},
                 id="not-exported"),
    pytest.param({"js/x.js": 'export { y } from "./y.js";\n', "js/y.js": "export const y = 1;\n"}, id="re-export"),
    pytest.param({"js/x.js": 'import { y } from "/abs/y.js";\n'}, id="absolute-import"),
])
def test_a_form_it_does_not_translate_leaves_the_page_on_its_modules(tmp_path, form):
    for name, text in form.items():
        write(tmp_path, name, text)
    assets = AssetTable(tmp_path)
    assert assets.bundler.bundle("js/x.js") is None
    html = str(assets.page_script("js/x.js"))
    assert html == str(assets.module_script("js/x.js")) and ".bundle.js" not in html


PAGES = ["/", "/conv", "/transpose", "/pool", "/matrices", "/receptive-field", "/backprop", "/fully-convolutional",
         "/equivariance", "/lab", "/docs"]


@pytest.mark.parametrize("path", PAGES)
def test_every_page_loads_one_bundle_that_parses(app_client, tmp_path, path):
    html = app_client.get(path).text
    assert html.count('<script type="module"') == 1 and 'rel="modulepreload"' not in html
    src = html.split('<script type="module" src="', 1)[1].split('"', 1)[0]
    assert ".bundle.js?v=" in src
    r = app_client.get(src, headers={"Accept-Encoding": "gzip"})
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/javascript")
    assert r.headers["content-encoding"] == "gzip" and r.headers["etag"]
    file = tmp_path / "page.mjs"
    file.write_bytes(r.content)
    assert NODE, "Node.js runs these checks: scripts/setup test installs it"
    check = subprocess.run([NODE, "--check", str(file)], capture_output=True, text=True, timeout=60)
    assert check.returncode == 0, check.stderr


def test_a_bundle_is_only_served_for_an_entry_module(app_client):
    assert app_client.get("/static/js/nothing.bundle.js").status_code == 404
    assert app_client.get("/static/css/app.bundle.js").status_code == 404
    assert app_client.get("/static/js/../../server/app.bundle.js").status_code == 404
    assert bundle_name("js/views/conv.js") == "js/views/conv.bundle.js"
    assert MemoryStatic(bundler=None)._bundle("/x/conv.bundle.js") is None
