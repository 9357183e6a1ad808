DROP TABLE chat_visitors;
DROP TABLE chat_widgets;
