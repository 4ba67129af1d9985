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
        [
            metrics_section("Import", {"valid": 10, "rejected": 2}),
            markdown_section("Split", "| a | b |"),
            html_section("Curve", "<p class='x'>hi</p>"),
        ],
    )
    assert page.index("Import") < page.index("Split") < page.index("Curve")
    assert "<td>0.9123</td>" in page and "<td>yes</td>" in page
    assert 'srcdoc="&lt;p class=&#x27;x&#x27;&gt;hi&lt;/p&gt;"' in page


def test_headline_puts_counts_spend_model_and_gate_first():
    from labelloop.components.core.active_learning import RoundRecord
    from labelloop.components.core.run_report import headline

    rounds = [
        RoundRecord(0, "cold_start", 10, 10, 0.5, 0.5, "accuracy", None),
        RoundRecord(1, "margin", 5, 15, 0.25, 0.75, "accuracy", 0.8),
    ]
    out = headline(
        {"items_total": 100, "items_rejected": 2},
        {"rejected_blurry": 3, "rejected_near_duplicate": 4},
        {"accuracy": 0.9, "other": 1},
        {"machine_labeled_items": 7, "test_precision": 0.99},
        {"item_count": 91, "counts_by_label_source": {"human": 30, "(none)": 61}},
        rounds,
        12.345,
        False,
        "FAIL change accuracy",
        "3",
    )
    assert out["removed by prefilter"] == 7 and out["human labels bought (pool)"] == 15
    assert out["items left unlabeled"] == 61 and out["items labeled by human"] == 30
    assert out["labeling spend (USD)"] == 12.35 and out["test accuracy"] == 0.9 and "test other" not in out
    assert (out["gate"], out["champion version"]) == ("refused", "3")
