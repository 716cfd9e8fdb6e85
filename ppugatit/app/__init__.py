"""The web app (``tools/app.py``, ``app.gradio.py``): Gradio in front of one loaded model."""
