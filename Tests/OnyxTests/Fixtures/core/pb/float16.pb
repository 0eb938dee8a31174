
Bfloat16J
¾¥·Ô»xº><