"""The GPU side: the model engine, the batch runner and the Celery tasks around them."""
