"""Load benchmark of the portal: real processes under gunicorn, nginx as the reference proxy,
wrk as the load generator, generated data at a realistic scale.

`python -m bench` runs everything and writes bench/results.json; see bench/README.md.
"""
