"""Scrapy project and extraction: pages in, `schemas` records out. No SQL, no Prefect."""
