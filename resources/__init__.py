"""Descriptions, class lists, shipped models, the pose model bundle and the starter gallery, installed as the
package ``crossglg_resources`` (read through :mod:`crossglg.paths`)."""
