"""Schemathesis hooks for riskscore's API (loaded by scripts/fuzz-api through SCHEMATHESIS_HOOKS).

One rule of a posted application cannot be written in JSON Schema: within one application, the
rows of `bureau` have distinct SK_ID_BUREAU and the rows of `previous_application` distinct
SK_ID_PREV (a row without its key counts as the key null). The server refuses duplicates (422,
naming the table) as it refuses them in files. This hook gives a generated body distinct keys
where it repeats one, and changes nothing else, so that a schema-valid body also keeps that rule.
"""

import schemathesis

KEYS = {"bureau": "SK_ID_BUREAU", "previous_application": "SK_ID_PREV"}


def _number(v):
    return isinstance(v, (int, float)) and not isinstance(v, bool)


def _unique_keys(app):
    if not isinstance(app, dict):
        return
    for table, key in KEYS.items():
        rows = app.get(table)
        if not isinstance(rows, list):
            continue
        taken = {r.get(key) for r in rows if isinstance(r, dict) and _number(r.get(key))}
        seen = set()
        fresh = 1
        for row in rows:
            if not isinstance(row, dict):
                continue
            v = row.get(key)
            if v is not None and not _number(v):
                continue  # a wrong type: left for the server to refuse
            if v in seen:
                while fresh in taken:
                    fresh += 1
                row[key] = fresh
                taken.add(fresh)
                v = fresh
            seen.add(v)


@schemathesis.hook
def map_body(context, body):
    if isinstance(body, dict):
        _unique_keys(body)
        for app in body.get("applications") or []:
            _unique_keys(app)
    return body
