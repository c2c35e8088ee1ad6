"""Gold-on-black theme files (package data): CSS, Bokeh theme, login page, Panel design."""
