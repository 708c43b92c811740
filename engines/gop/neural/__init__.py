"""The GOP engine's neural acoustic front end: frame-level phone posteriors from the frozen
Whisper tiny.en encoder (run by CTranslate2) and a small phone classifier pronscore trains
(`training/frontend.py`) and ships. Everything here is optional: without the `neural` extra or
its weights the engine runs on PocketSphinx alone (`frontend.load_front_end` says why).
"""
