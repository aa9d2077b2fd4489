"""Tests of workflow/jobs (the periodic jobs) and their storage."""
