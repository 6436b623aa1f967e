"""Message models of every kitestream topic, their generated JSON Schemas (``json/``) and
the AsyncAPI document of the topics (``asyncapi.yaml``)."""
