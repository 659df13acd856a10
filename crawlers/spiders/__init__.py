"""Scrapy spiders of scipol (one: `source`)."""
