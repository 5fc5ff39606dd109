"""Domain types, the topic contract and the knowledge base."""
