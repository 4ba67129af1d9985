from labelloop.components.core.run_report import (
    html_section,
    markdown_section,
    markdown_to_html,
    metrics_section,
    render_page,
)


def test_markdown_subset_renders_tables_lists_and_escapes_html():
    out = markdown_to_html("# Split\n\n| label | n |\n|---|---:|\n| a<b | 3 |\n\n- **kept** `12`\n\nplain <script>")
    assert "<h3>Split</h3>" in out
    assert "<tr><th>label</th><th>n</th></tr><tr><td>a&lt;b</td><td>3</td></tr>" in out
    assert "<li><b>kept</b> <code>12</code></li>" in out
    assert "&lt;script&gt;" in out and "<script>" not in out


def test_page_has_summary_then_sections_in_order():
    page = render_page(
        "Run",
        {"items kept": 10, "accuracy": 0.91234, "blessed": True},
        [metrics_section("Import", {"valid": 10, "rejected": 2}), markdown_section("Split", "| a | b |"),
         html_section("Curve", "<p class='x'>hi</p>")],
    )
    assert page.index("Import") < page.index("Split") < page.index("Curve")
    assert "<td>0.9123</td>" in page and "<td>yes</td>" in page
    assert 'srcdoc="&lt;p class=&#x27;x&#x27;&gt;hi&lt;/p&gt;"' in page
