"""The door for people: server-rendered pages under ``/ui`` (Jinja2 templates, message
catalogues, static assets served by Kapu itself). Forms in, one service call, a page out;
every action is a plain HTML form, so everything works without JavaScript."""
