"""The store: contract topics into a SQL database (``kitestream store``)."""
