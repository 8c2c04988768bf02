"""Tests of scripts/check_links.py (stdlib unittest; pytest runs them too).

    python3 -m unittest discover -s scripts -p 'test_check_links.py'
"""

from __future__ import annotations

import contextlib
import io
import sys
import tempfile
import unittest
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import check_links  # noqa: E402


def run(root: Path, *extra: str) -> tuple[int, str]:
    """Exit status and printed problems of the checker on ``root``."""
    out = io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(io.StringIO()):
        status = check_links.main(["--root", str(root), *extra])
    return status, out.getvalue()


class CheckLinks(unittest.TestCase):
    def setUp(self) -> None:
        self.tmp = tempfile.TemporaryDirectory()
        self.root = Path(self.tmp.name) / "repo"
        (self.root / "docs" / "results").mkdir(parents=True)
        (self.root / "results").mkdir()
        (self.root / "results" / "fig.png").write_bytes(b"png")
        (self.root / "docs" / "results" / "imdb.md").write_text(
            "# IMDB\n\n## Analysis, with the baselines\n\n## Same recipe? (ECG `autoencoder`)\n\n## Reading\n\n## Reading\n",
            encoding="utf-8",
        )

    def tearDown(self) -> None:
        self.tmp.cleanup()

    def write_readme(self, text: str) -> None:
        (self.root / "README.md").write_text(text, encoding="utf-8")

    def test_resolving_links_pass(self) -> None:
        self.write_readme(
            "![fig](results/fig.png) [imdb](docs/results/imdb.md#analysis-with-the-baselines)\n"
            "[r](docs/results/imdb.md#same-recipe-ecg-autoencoder) [second](docs/results/imdb.md#reading-1)\n"
            "[web](https://example.org/x) [self](#top)\n\n# Top\n"
        )
        self.assertEqual(run(self.root), (0, ""))

    def test_missing_file_and_anchor_are_reported_with_line(self) -> None:
        self.write_readme("ok\n[gone](docs/nope.md)\n[bad anchor](docs/results/imdb.md#nothing)\n")
        status, out = run(self.root)
        self.assertEqual(status, 1)
        self.assertIn("README.md:2: 'docs/nope.md': no such file", out)
        self.assertIn("README.md:3: 'docs/results/imdb.md#nothing': no heading with anchor #nothing", out)

    def test_links_leaving_the_repository_or_absolute_fail(self) -> None:
        (Path(self.tmp.name) / "outside.md").write_text("x", encoding="utf-8")
        self.write_readme("[out](../outside.md)\n[abs](/etc/passwd)\n")
        status, out = run(self.root)
        self.assertEqual(status, 1)
        self.assertIn("leaves the repository", out)
        self.assertIn("absolute path", out)

    def test_code_is_ignored_and_allow_missing_allows(self) -> None:
        self.write_readme("`[x](gone.md)`\n```\n[y](gone.md)\n```\n[later](docs/python.md)\n")
        self.assertEqual(run(self.root)[0], 1)
        self.assertEqual(run(self.root, "--allow-missing", "docs/python.md"), (0, ""))

    def test_relative_to_the_linking_file(self) -> None:
        self.write_readme("x\n")
        (self.root / "docs" / "a.md").write_text("[f](../results/fig.png) [i](results/imdb.md#reading)\n", encoding="utf-8")
        self.assertEqual(run(self.root), (0, ""))

    def test_slug(self) -> None:
        self.assertEqual(check_links.slug("GPU path (wgpu), checked on a `software` driver"), "gpu-path-wgpu-checked-on-a-software-driver")
        self.assertEqual(check_links.slug("One build of burn: workspace-hack"), "one-build-of-burn-workspace-hack")


if __name__ == "__main__":
    unittest.main()
