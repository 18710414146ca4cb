"""Scrapes a relay's /metrics as Prometheus would and prints each sample
as `name{label="value",...} TYPE VALUE`, labels sorted, one a line.

Usage: scrape_metrics.py URL
"""

import sys
import urllib.request

from prometheus_client.parser import text_string_to_metric_families

EXPECTED_TYPE = "text/plain; version=0.0.4"


def main() -> None:
    with urllib.request.urlopen(sys.argv[1], timeout=10) as response:
        content_type = response.headers.get("Content-Type", "")
        text = response.read().decode("utf-8")
    if not content_type.startswith(EXPECTED_TYPE):
        sys.exit(f"Content-Type {content_type!r}, not {EXPECTED_TYPE!r}")
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            labels = ",".join(f'{k}="{v}"' for k, v in sorted(sample.labels.items()))
            print(f"{sample.name}{{{labels}}} {family.type} {sample.value!r}")


if __name__ == "__main__":
    main()
