"""Every relative link in README.md and docs/*.md leads somewhere, anchors included."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.unit.docs.markdown import anchors, broken_links, links, slug

ROOT = Path(__file__).parents[3]
README = ROOT / "README.md"
DOCS = sorted((ROOT / "docs").glob("*.md"))


def test_every_relative_link_resolves() -> None:
    assert DOCS, "no docs/*.md found"
    assert broken_links([README, *DOCS]) == []


def test_the_readme_links_every_docs_page() -> None:
    linked = {(README.parent / link.target.partition("#")[0]).resolve() for link in links(README)}
    assert [page.name for page in DOCS if page.resolve() not in linked] == []


def test_the_readme_stays_a_front_door() -> None:
    assert len(README.read_text().splitlines()) <= 300


@pytest.mark.parametrize(
    ("heading", "anchor"),
    [
        ("Test results: `POST /v1/uploads`", "test-results-post-v1uploads"),
        (
            "Incidents from PagerDuty: `POST /webhooks/pagerduty`",
            "incidents-from-pagerduty-post-webhookspagerduty",
        ),
        ("What lands on `tests.results`", "what-lands-on-testsresults"),
        (
            "Delivery, retries and the dead-letter topic",
            "delivery-retries-and-the-dead-letter-topic",
        ),
        (
            "JavaScript (`buildkite-test-collector`: Jest, …)",
            "javascript-buildkite-test-collector-jest-",
        ),
        ("See [the docs](docs/x.md) now", "see-the-docs-now"),
        ("KITESTREAM_TOPIC_PREFIX", "kitestream_topic_prefix"),
    ],
)
def test_anchors_are_github_slugs(heading: str, anchor: str) -> None:
    assert slug(heading) == anchor


def test_repeated_headings_are_numbered_and_code_blocks_skipped() -> None:
    text = "# Settings\n\n```sh\n# not a heading\n```\n\n## Settings\n### Settings\n"
    assert anchors(text) == {"settings", "settings-1", "settings-2"}


def test_a_broken_file_or_anchor_is_reported(tmp_path: Path) -> None:
    (tmp_path / "docs").mkdir()
    page = tmp_path / "docs" / "page.md"
    page.write_text("# Page\n\n## Real part\n")
    readme = tmp_path / "README.md"
    readme.write_text(
        "# R\n\n[ok](docs/page.md#real-part) [self](#r) [web](https://example.com/x#y)\n"
        "[gone](docs/missing.md) [bad anchor](docs/page.md#nope)\n"
        "`[in code](nowhere.md)`\n\n```\n[in a block](nowhere.md)\n```\n"
        "[folder](docs/) [anchor in a folder](docs/#x)\n"
    )
    assert broken_links([readme, page]) == [
        "README.md:4: docs/missing.md (no such file)",
        "README.md:4: docs/page.md#nope (no heading #nope in page.md)",
        "README.md:10: docs/#x (an anchor into a file that is not Markdown)",
    ]
