"""The enqueue side: the client library, manifests, uploads, and ratings imports."""
