"""The console: kitestream's history in a browser, served by ``kitestream api`` at ``/``.

| module      | holds                                                         |
|-------------|---------------------------------------------------------------|
| app.py      | the routes, access (bearer or login cookie), rendering        |
| views.py    | what each page shows, read through the query API's handlers   |
| charts.py   | server-side SVG charts (pure functions)                       |
| templates/  | Jinja2 pages (autoescaped)                                    |
| static/     | the stylesheet                                                |

See docs/console.md.
"""
